"""The farm as it is now: inventory + live telemetry + replicas, folded into rig and GPU rows.

Pure: every input is passed in (fleet, latest telemetry per rig, replicas, recent usage, clock).
Each figure says where it comes from: `live` (an agent's report), `inventory` (the fleet file's
snapshot, e.g. what HiveOS said at import) or nothing (unknown). Alerts only fire on live data:
an inventory snapshot is not "now".

GPU state: `lost` when its rig's agent has gone silent; else `serving` when a replica holds it;
else `mining` when the inventory says a miner runs on it; else `idle`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rigshift.assess import FleetAssessment
from rigshift.decision.now import LIVE_STATES, LiveGpu
from rigshift.fleet.model import UNASSIGNED_SITE, Fleet, Gpu, Rig
from rigshift.run.contracts import GpuTelemetry, ReplicaEndpoint, RigTelemetry

GpuState = Literal["mining", "serving", "idle", "lost"]
GPU_STATES: tuple[GpuState, ...] = ("mining", "serving", "idle", "lost")

# Consumer cards start to throttle their clocks at 83-93 °C core (NVIDIA's published slowdown
# temperatures for GTX 10 / RTX 30 boards; AMD's Polaris junction limit is higher). 85 °C is the
# point a farm operator would look at the airflow; it is shown next to every hot-GPU alert.
HOT_GPU_C = 85.0


@dataclass
class GpuRow:
    rig: str
    site: str
    index: int
    model: str
    vram_gib: float | None
    link: str | None  # "Gen3 x1" as trained (inventory); None: unknown
    state: GpuState
    source: Literal["live", "inventory", "none"]
    temperature_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    utilization_pct: float | None = None
    memory_used_gib: float | None = None
    replicas: list[str] = field(default_factory=list)
    tier: str | None = None  # the assessment's best model class (None: not assessed yet)
    ready: bool | None = None
    reason: str | None = None  # what stops its next tier, in words


@dataclass
class RigRow:
    name: str
    site: str
    gpus: int
    states: dict[str, int]
    power_w: float | None
    telemetry_age_s: float | None  # None: no agent has reported for this rig
    lost: bool
    cpu: str | None = None
    ram_gib: float | None = None
    link: str | None = None
    replicas: list[str] = field(default_factory=list)
    best_tier: str | None = None
    ready_gpus: int | None = None


@dataclass
class Alert:
    kind: Literal["rig_lost", "replica_restarting", "hot_gpu"]
    severity: Literal["warning", "critical"]
    subject: str
    message: str


@dataclass
class FleetView:
    rigs: list[RigRow]
    gpus: list[GpuRow]
    alerts: list[Alert]


def _link(gpu: Gpu) -> str | None:
    return f"Gen{gpu.pcie.gen} x{gpu.pcie.width}" if gpu.pcie else None


def _replicas_by_gpu(
    replicas: Iterable[ReplicaEndpoint],
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    by_gpu: dict[str, list[str]] = {}
    by_rig: dict[str, list[str]] = {}
    for r in replicas:
        if r.state == "stopped":
            continue
        by_rig.setdefault(r.rig, []).append(r.replica_id)
        for g in r.gpus:
            by_gpu.setdefault(g, []).append(r.replica_id)
    return by_gpu, by_rig


def build_view(
    fleet: Fleet | None,
    telemetry: Mapping[str, tuple[float, RigTelemetry]],
    replicas: Sequence[ReplicaEndpoint],
    *,
    now: float,
    stale_s: float,
    assessment: FleetAssessment | None = None,
) -> FleetView:
    by_gpu, by_rig = _replicas_by_gpu(replicas)
    verdicts = {}
    rig_verdicts = {}
    if assessment is not None:
        verdicts = {(g.rig, g.index): g for g in assessment.gpus}
        rig_verdicts = {r.name: r for r in assessment.rigs}
    rigs: list[RigRow] = []
    gpus: list[GpuRow] = []
    alerts: list[Alert] = []
    known = set()
    inventory: list[Rig] = list(fleet.rigs) if fleet else []
    for rig in inventory:
        known.add(rig.name)
        rigs.append(
            _rig(
                rig.name,
                rig.site,
                rig.gpus,
                telemetry.get(rig.name),
                by_gpu,
                by_rig,
                now,
                stale_s,
                gpus,
                verdicts,
            )
        )
        row = rigs[-1]
        row.cpu = rig.cpu_model
        row.ram_gib = rig.ram_gib
        links = sorted({lk for g in rig.gpus if (lk := _link(g))})
        row.link = ", ".join(links) or None
        verdict = rig_verdicts.get(rig.name)
        if verdict is not None:
            row.best_tier, row.ready_gpus = verdict.best_tier, verdict.ready_gpus
    # Rigs the cluster knows but the fleet file does not (an agent, or `up --demo`'s local rig).
    for name in sorted((set(telemetry) | set(by_rig)) - known):
        rigs.append(
            _rig(name, UNASSIGNED_SITE, [], telemetry.get(name), by_gpu, by_rig, now, stale_s, gpus, {})
        )
    for rig_row in rigs:
        if rig_row.lost:
            alerts.append(
                Alert(
                    "rig_lost",
                    "critical",
                    rig_row.name,
                    f"rig {rig_row.name}: no telemetry for {rig_row.telemetry_age_s:.0f} s "
                    f"(lost after {stale_s:.0f} s)",
                )
            )
    for g in gpus:
        if g.source == "live" and g.temperature_c is not None and g.temperature_c >= HOT_GPU_C:
            alerts.append(
                Alert(
                    "hot_gpu",
                    "warning",
                    f"{g.rig}/{g.index}",
                    f"GPU {g.rig}/{g.index} ({g.model}) at {g.temperature_c:.0f} °C (alert at ≥ {HOT_GPU_C:.0f} °C)",
                )
            )
    for r in replicas:
        restarts = int(r.labels.get("restarts", "0") or 0)
        if r.state == "unhealthy" or (r.state == "starting" and restarts > 0):
            error = r.labels.get("error")
            alerts.append(
                Alert(
                    "replica_restarting",
                    "warning",
                    r.replica_id,
                    f"replica {r.replica_id} on {r.rig}: {r.state}, {restarts} restart(s)"
                    + (f": {error}" if error else ""),
                )
            )
    return FleetView(rigs, gpus, alerts)


def _rig(
    name: str,
    site: str,
    inventory_gpus: Sequence[Gpu],
    latest: tuple[float, RigTelemetry] | None,
    by_gpu: Mapping[str, list[str]],
    by_rig: Mapping[str, list[str]],
    now: float,
    stale_s: float,
    out: list[GpuRow],
    verdicts: Mapping[tuple[str, int], Any],
) -> RigRow:
    age = now - latest[0] if latest else None
    lost = age is not None and age > stale_s
    live: dict[int, GpuTelemetry] = {g.index: g for g in latest[1].gpus} if latest else {}
    indices: list[tuple[int, Gpu | None]] = [
        (g.index if g.index is not None else i, g) for i, g in enumerate(inventory_gpus)
    ]
    seen = {i for i, _ in indices}
    indices += [(i, None) for i in sorted(live) if i not in seen]
    states: dict[str, int] = dict.fromkeys(GPU_STATES, 0)
    power = 0.0
    power_known = False
    for position, (index, gpu) in enumerate(indices):
        reading = live.get(index)
        holders = by_gpu.get(f"{name}/{index}", []) + (by_gpu.get(gpu.uuid, []) if gpu and gpu.uuid else [])
        state: GpuState
        if lost:
            state = "lost"
        elif holders:
            state = "serving"
        elif gpu is not None and gpu.miner_running:
            state = "mining"
        else:
            state = "idle"
        states[state] += 1
        row = GpuRow(
            rig=name,
            site=site,
            index=index,
            model=(gpu.model if gpu else None) or (reading.model if reading else None) or "unknown",
            vram_gib=gpu.vram_gib if gpu else (reading.memory_total_gib if reading else None),
            link=_link(gpu) if gpu else None,
            state=state,
            source="live" if reading is not None and not lost else ("inventory" if gpu else "none"),
            replicas=holders,
        )
        if reading is not None and not lost:
            row.temperature_c = reading.temperature_c
            row.power_w = reading.power_w
            row.power_limit_w = reading.power_limit_w
            row.utilization_pct = reading.utilization_pct
            row.memory_used_gib = reading.memory_used_gib
        elif gpu is not None:
            row.temperature_c = gpu.temperature_c
            row.power_w = gpu.power_draw_w
            row.power_limit_w = gpu.power.current if gpu.power else None
            row.memory_used_gib = gpu.vram_used_by_others_gib or None
        verdict = verdicts.get((name, position))
        if verdict is not None:
            row.tier, row.ready = verdict.tier, verdict.ready
            row.reason = verdict.primary_reason.text if verdict.primary_reason else None
        if row.power_w is not None:
            power += row.power_w
            power_known = True
        out.append(row)
    return RigRow(
        name=name,
        site=site,
        gpus=len(indices),
        states=states,
        power_w=power if power_known else None,
        telemetry_age_s=age,
        lost=lost,
        replicas=list(by_rig.get(name, [])),
    )


def overview(
    view: FleetView,
    fleet: Fleet | None,
    *,
    tokens_per_s: float,
    revenue_usd_per_h: float,
    default_usd_per_kwh: float | None,
) -> dict[str, Any]:
    """The Overview page's numbers. Power cost uses each site's price and PUE from the fleet file,
    else `default_usd_per_kwh` (the econ defaults), and says which it used."""
    sites: dict[str, dict[str, Any]] = {}
    site_info = {s.name: s for s in fleet.sites} if fleet else {}
    for rig in view.rigs:
        s = sites.setdefault(
            rig.site, {"name": rig.site, "rigs": 0, "gpus": 0, "power_w": 0.0, **dict.fromkeys(GPU_STATES, 0)}
        )
        s["rigs"] += 1
        s["gpus"] += rig.gpus
        s["power_w"] += rig.power_w or 0.0
        for state, n in rig.states.items():
            s[state] += n
    cost = 0.0
    price_sources = set()
    for s in sites.values():
        info = site_info.get(s["name"])
        price = info.power_price_usd_kwh if info and info.power_price_usd_kwh is not None else None
        pue = info.pue if info else 1.0
        if price is None:
            price = default_usd_per_kwh
            price_sources.add("default")
        else:
            price_sources.add("site")
        s["usd_per_kwh"] = price
        s["power_cost_usd_per_h"] = s["power_w"] / 1000 * pue * price if price is not None else None
        cost += s["power_cost_usd_per_h"] or 0.0
    states = {state: sum(r.states[state] for r in view.rigs) for state in GPU_STATES}
    live = sum(1 for g in view.gpus if g.source == "live")
    return {
        "fleet": fleet.name if fleet else None,
        "sites": sorted(sites.values(), key=lambda s: s["name"]),
        "rigs": len(view.rigs),
        "rigs_lost": sum(1 for r in view.rigs if r.lost),
        "gpus": len(view.gpus),
        "gpu_states": states,
        "power_w": sum(r.power_w or 0.0 for r in view.rigs),
        "power_sources": {"live": live, "inventory": sum(1 for g in view.gpus if g.source == "inventory")},
        "power_cost_usd_per_h": cost,
        "power_price_sources": sorted(price_sources),
        "revenue_usd_per_h": revenue_usd_per_h,
        "tokens_per_s": tokens_per_s,
        "alerts": [asdict(a) for a in view.alerts],
        "hot_gpu_c": HOT_GPU_C,
    }


def live_gpus(view: FleetView) -> list[LiveGpu]:
    """The GPUs an agent reports now, in the state the view gives them (mining, serving, idle): what
    the Overview's money "now" is priced from (rigshift.decision.now). Inventory rows are not now."""
    return [
        LiveGpu(g.site, g.model, g.state, g.power_w)
        for g in view.gpus
        if g.source == "live" and g.state in LIVE_STATES
    ]
