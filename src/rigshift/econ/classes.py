"""Group a fleet's GPUs into card classes (one GPU model at one site) with their rig facts."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.econ.cards import CardClass
from rigshift.econ.inputs import EconInputs, Hashrate
from rigshift.errors import RigshiftError
from rigshift.fleet.model import UNRESOLVED_MODEL, Fleet, Gpu, Rig
from rigshift.hosts import DEFAULT_HOST_CRITERIA

# A rig with no link recorded is assumed to sit on x1 risers: the usual mining build (e.g. the
# published rig of github.com/AlexGL402/AI6-P104-Homelab, six cards on x1 risers; docs/fleet.md).
ASSUMED_RISER = (1, 1)
# Vast.ai's published host rules (https://docs.vast.ai/verification-stages, read 2026-12-07): per GPU
# ≥1 CPU core, ≥4 GB RAM, ≥1 PCIe lane per 2.5 TFLOPS.
RENTAL_GB_RAM_PER_GPU = 4.0
RENTAL_TFLOPS_PER_LANE = 2.5


def lanes_needed_for_rental(spec: GpuSpec) -> int:
    return max(1, math.ceil(spec.fp32_tflops / RENTAL_TFLOPS_PER_LANE))


def rental_blockers(rig: Rig, gpu: Gpu, spec: GpuSpec) -> list[str]:
    """What stops a marketplace from listing this GPU as it sits in its rig."""
    n = len(rig.gpus)
    blockers = []
    if rig.cpu_cores is None or rig.cpu_cores < n:
        blockers.append(f"{rig.cpu_cores or '?'} CPU cores for {n} GPUs")
    if rig.ram_gib is None or rig.ram_gib * 1.073741824 < RENTAL_GB_RAM_PER_GPU * n:
        blockers.append(f"{rig.ram_gib or '?'} GiB RAM for {n} GPUs")
    lanes = gpu.pcie.width if gpu.pcie else ASSUMED_RISER[1]
    if lanes < lanes_needed_for_rental(spec):
        blockers.append(f"PCIe x{lanes}, needs x{lanes_needed_for_rental(spec)}")
    if len({g.model for g in rig.gpus}) > 1:
        blockers.append("mixed GPU models in one host")
    return blockers


def rental_fix_usd_per_gpu(spec: GpuSpec, inputs: EconInputs) -> float:
    """A new host with enough lanes, shared by as many such cards as its lanes allow."""
    cap = inputs.capital
    per_host = max(1, min(cap.gpus_per_host, cap.host_pcie_lanes // lanes_needed_for_rental(spec)))
    return cap.host_usd / per_host


def ram_upgrade_usd_per_gpu(rig: Rig, inputs: EconInputs) -> float:
    """RAM to reach the marketplace's 4 GB per GPU, per GPU of the rig."""
    need_gib = RENTAL_GB_RAM_PER_GPU * len(rig.gpus) / 1.073741824
    missing = max(0.0, need_gib - (rig.ram_gib or 0.0))
    return missing * inputs.capital.ram_usd_per_gib / len(rig.gpus)


def site_power(
    fleet: Fleet, site: str, inputs: EconInputs
) -> tuple[float, float, tuple[tuple[float, float], ...]]:
    """($/kWh, PUE, duration curve) for a site: its own flat price unless the prices file overrides it."""
    found = fleet.site(site)
    price = inputs.power.usd_per_kwh
    series = inputs.power.series
    curve = series.duration_curve if series is not None else ()
    if found is not None and found.power_price_usd_kwh is not None and not inputs.power.override_sites:
        price, curve = found.power_price_usd_kwh, ()
    pue = inputs.power.pue if inputs.power.pue is not None else (found.pue if found is not None else 1.0)
    return price, pue, curve


def measured_hashrates(members: list[tuple[Rig, Gpu]], spec: GpuSpec) -> tuple[Hashrate, ...]:
    """Mean reported hashrate (and draw, where reported) per algorithm over the GPUs that report one."""
    by_algo: dict[str, list[Gpu]] = defaultdict(list)
    for _, gpu in members:
        if gpu.algorithm and gpu.hashrate_mhs and gpu.hashrate_mhs > 0:
            by_algo[gpu.algorithm].append(gpu)
    out = []
    for algo, gpus in sorted(by_algo.items()):
        draws = [g.power_draw_w for g in gpus if g.power_draw_w]
        watts = sum(draws) / len(draws) if draws else spec.tdp_w
        out.append(
            Hashrate(
                algorithm=algo,
                hashrate_hs=sum(g.hashrate_mhs or 0 for g in gpus) / len(gpus) * 1e6,
                power_w=watts,
            )
        )
    return tuple(out)


class UnassessedCards(BaseModel):
    """GPUs the economics leaves out because the GPU catalog does not know them: counted, not priced."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str
    name: str  # as the fleet file or its source names the card
    count: int
    hint: str  # what to do about it


def _unknown_name(gpu: Gpu) -> str:
    if gpu.model == UNRESOLVED_MODEL:
        return gpu.reported_name or "unknown GPU"
    return gpu.model


def _hint(gpu: Gpu, error: RigshiftError | None) -> str:
    suggestions = list(gpu.name_suggestions) or list(getattr(error, "suggestions", ()) or ())
    hint = "not in the GPU catalog: correct the model in the fleet file"
    if suggestions:
        hint += " (did you mean " + " or ".join(repr(s) for s in suggestions[:3]) + "?)"
    return hint + ", or add the card to the catalog (docs/fleet.md)"


def host_share(rig: Rig, gpus: int) -> tuple[float | None, float | None, float | None]:
    """The rig's CPU cores, RAM and disk as a class of `gpus` of its cards may count on. A rig of
    one card model gives the class all of it; a mixed rig gives each class its share of the cores
    and of the RAM above the OS reserve, so the classes together never count more replicas than
    the host carries (assess and plan count the rig as a whole)."""
    total = len(rig.gpus)
    if gpus >= total:
        return rig.cpu_cores, rig.ram_gib, rig.disk_gib
    share = gpus / total
    reserve = DEFAULT_HOST_CRITERIA.host_reserve_ram_gib
    cores = None if rig.cpu_cores is None else rig.cpu_cores * share
    ram = None if rig.ram_gib is None else reserve + max(rig.ram_gib - reserve, 0.0) * share
    return cores, ram, rig.disk_gib


def card_classes(
    fleet: Fleet,
    spec_of: Callable[[str], GpuSpec],
    inputs: EconInputs,
    unassessed: list[UnassessedCards] | None = None,
) -> list[CardClass]:
    """The fleet's card classes; GPUs the catalog does not know go to `unassessed` (counted, excluded)."""
    groups: dict[tuple[str, str], list[tuple[Rig, Gpu]]] = defaultdict(list)
    for rig, gpu in fleet.gpus():
        groups[(rig.site, gpu.model)].append((rig, gpu))
    classes = []
    for (site, key), members in sorted(groups.items()):
        try:
            if key == UNRESOLVED_MODEL:
                raise RigshiftError(f"unresolved GPU name {key!r}")
            spec = spec_of(key)
        except RigshiftError as error:
            if unassessed is not None:
                by_name: dict[str, list[Gpu]] = defaultdict(list)
                for _, gpu in members:
                    by_name[_unknown_name(gpu)].append(gpu)
                for name, gpus in sorted(by_name.items()):
                    hint = _hint(gpus[0], error if key != UNRESOLVED_MODEL else None)
                    unassessed.append(UnassessedCards(site=site, name=name, count=len(gpus), hint=hint))
            continue
        price, pue, curve = site_power(fleet, site, inputs)
        blockers: list[str] = []
        only_ram = True
        ram_cost = 0.0
        # The answer depends on the rig and the card's link only: ask once per pair (100k-GPU fleets).
        asked: dict[tuple[int, int | None], tuple[list[str], float]] = {}
        for rig, gpu in members:
            pair = (id(rig), gpu.pcie.width if gpu.pcie else None)
            if pair not in asked:
                found = rental_blockers(rig, gpu, spec)
                ram = ram_upgrade_usd_per_gpu(rig, inputs) if found and rig.ram_gib is not None else 0.0
                asked[pair] = (found, ram)
                only_ram = only_ram and all(" RAM for " in b for b in found)
                blockers += [b for b in found if b not in blockers]
            ram_cost += asked[pair][1]
        if blockers and only_ram and all(r.ram_gib is not None for r, _ in members):
            fix = ram_cost / len(members)  # more RAM is enough: no new host
        else:
            fix = rental_fix_usd_per_gpu(spec, inputs) if blockers else 0.0
        links = [(g.pcie.gen, g.pcie.width) if g.pcie else ASSUMED_RISER for _, g in members]
        per_rig: dict[str, int] = defaultdict(int)
        rig_of: dict[str, Rig] = {}
        for rig, _ in members:
            per_rig[rig.name] += 1
            rig_of[rig.name] = rig
        rig_hosts = Counter((n, *host_share(rig_of[name], n)) for name, n in per_rig.items())
        busy = [
            g.power.current
            if g.power and g.power.current
            else (g.power.default if g.power and g.power.default else spec.tdp_w)
            for _, g in members
        ]
        classes.append(
            CardClass(
                id=f"{site}/{key}",
                site=site,
                gpu_key=key,
                gpu_name=spec.name,
                count=len(members),
                vram_gib=spec.vram_gib,
                busy_w=sum(busy) / len(busy),
                host_share_w=sum(inputs.power.host_w_per_rig / len(r.gpus) for r, _ in members)
                / len(members),
                usd_per_kwh=price,
                pue=pue,
                price_curve=curve,
                measured_hashrates=measured_hashrates(members, spec),
                link_gen=min(g for g, _ in links),
                link_lanes=min(w for _, w in links),
                max_group=max(per_rig.values()),
                rig_hosts=tuple(sorted(((*k, rigs) for k, rigs in rig_hosts.items()), key=repr)),
                rental_fix_usd_per_gpu=fix,
                rental_blockers=tuple(blockers),
            )
        )
    return classes


def purchase_class(spec: GpuSpec, site: str, fleet: Fleet, inputs: EconInputs) -> CardClass:
    """A card the plan may buy, as it would sit at `site`: on a riser in a new mining-style host."""
    price, pue, curve = site_power(fleet, site, inputs)
    return CardClass(
        id=f"{site}/{spec.key}+buy",
        site=site,
        gpu_key=spec.key,
        gpu_name=spec.name,
        count=0,
        vram_gib=spec.vram_gib,
        busy_w=spec.tdp_w,
        host_share_w=inputs.power.host_w_per_rig / inputs.capital.gpus_per_host,
        usd_per_kwh=price,
        pue=pue,
        price_curve=curve,
        link_gen=3,
        link_lanes=1,
        max_group=inputs.capital.gpus_per_host,
        rental_fix_usd_per_gpu=rental_fix_usd_per_gpu(spec, inputs),
        rental_blockers=("bought cards go on x1 risers; renting needs a proper host",),
    )
