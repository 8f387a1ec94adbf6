"""Merge what several sources say about the same farm into one record per rig and GPU.

Matching: a rig by name or hostname (case and punctuation ignored: `Rig_07` is `rig-07`); a GPU
within a rig by PCI bus id, then UUID, then, when neither side has ids and both list the same
number of cards, by position (minerstat lists cards in order and knows no bus id). A card only
one source sees is kept: it is still a card.

Precedence, per field, when two sources both give a value (a value a source left out never
overrides one it gave):

- what the rig measures itself wins for hardware: **probe > file > hiveos > minerstat**
  (model name, VRAM, PCIe link, power limits, VRAM held by others, temperatures, CPU, RAM, disk);
- the mining OS wins for mining: **hiveos > minerstat > probe > file** (hashrate, algorithm,
  miner running, worker id, mining OS, mining revenue);
- the person wins for placement and bookkeeping: **file > hiveos > minerstat > probe** (site,
  rig name, PSU, reserved for mining, site prices and budgets).

A GPU model the catalog resolved beats one it did not, whatever the source. Two sources of the
same kind: the one given first wins. Each overridden disagreement on an identity field is
reported as a note, so a wrong inventory line gets noticed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from rigshift.fleet.model import UNASSIGNED_SITE, UNRESOLVED_MODEL, Fleet, Gpu, Rig, Site
from rigshift.fleet.sources.common import Parsed, SourceKind
from rigshift.fleet.sources.nvml import normalise_bus_id

HARDWARE: tuple[SourceKind, ...] = ("probe", "file", "hiveos", "minerstat")
MINING: tuple[SourceKind, ...] = ("hiveos", "minerstat", "probe", "file")
BOOKKEEPING: tuple[SourceKind, ...] = ("file", "hiveos", "minerstat", "probe")

_MINING_FIELDS = {
    "hashrate_mhs",
    "algorithm",
    "miner_running",
    "external_id",
    "mining_os",
    "mining_revenue_usd_day",
}
_BOOKKEEPING_FIELDS = {
    "site",
    "name",
    "psu_w",
    "reserved_for_mining",
    "power_budget_kw",
    "power_price_usd_kwh",
    "pue",
}
# Disagreements on these are reported; on the others (temperatures, fan) sources differ by design.
_IDENTITY_FIELDS = {"model", "vram_gib", "pcie", "uuid", "site", "cpu_cores", "ram_gib", "psu_w"}


def precedence(field_name: str) -> tuple[SourceKind, ...]:
    if field_name in _MINING_FIELDS:
        return MINING
    if field_name in _BOOKKEEPING_FIELDS:
        return BOOKKEEPING
    return HARDWARE


@dataclass
class Merged:
    fleet: Fleet
    notes: list[str] = field(default_factory=list)


M = TypeVar("M", bound=BaseModel)
Sourced = tuple[SourceKind, int, Any]  # (kind, position of the source in the input, object)


def merge_sources(parsed: Sequence[Parsed]) -> Merged:
    notes: list[str] = []
    rig_groups: list[list[Sourced]] = []
    index: dict[str, int] = {}
    for position, part in enumerate(parsed):
        for rig in part.fleet.rigs:
            keys = {_norm(rig.name)} | ({_norm(rig.hostname)} if rig.hostname else set())
            found = next((index[k] for k in keys if k in index), None)
            if found is None:
                found = len(rig_groups)
                rig_groups.append([])
            rig_groups[found].append((part.kind, position, rig))
            for k in keys:
                index.setdefault(k, found)
    rigs = [_merge_rig(group, notes) for group in rig_groups]

    site_groups: dict[str, list[Sourced]] = {}
    for position, part in enumerate(parsed):
        for site in part.fleet.sites:
            site_groups.setdefault(site.name, []).append((part.kind, position, site))
    used = {rig.site for rig in rigs}
    # Sites a person declared stay even without rigs yet; others only when a rig names them.
    sites = [
        _merge_model(Site, g, f"site {name}", notes)
        for name, g in site_groups.items()
        if name in used or any(kind == "file" for kind, _, _ in g)
    ]
    names = [p.fleet.name for p in parsed if p.fleet.name != "fleet"]
    # Measurements a fleet file carries (`rigshift bench --fleet`) survive a re-import, once each.
    measurements = list({m.model_dump_json(): m for p in parsed for m in p.fleet.measurements}.values())
    fleet = Fleet(name=names[0] if names else "fleet", sites=sites, rigs=rigs, measurements=measurements)
    missing = used - {s.name for s in sites}
    fleet.sites.extend(Site(name=n) for n in sorted(missing))
    return Merged(fleet, notes)


def _merge_rig(group: list[Sourced], notes: list[str]) -> Rig:
    label = f"rig {group[0][2].name}"
    merged = _merge_model(Rig, group, label, notes, skip=frozenset({"gpus"}))
    gpu_groups = _match_gpus(group)
    merged.gpus = [
        _merge_model(Gpu, g, f"{label} GPU {g[0][2].bus_id or g[0][2].index}", notes) for g in gpu_groups
    ]
    if len({len(r.gpus) for _, _, r in group}) > 1:
        counts = ", ".join(f"{k} {len(r.gpus)}" for k, _, r in group)
        notes.append(f"{label}: sources list different GPU counts ({counts}); kept {len(merged.gpus)}")
    return merged


def _match_gpus(group: list[Sourced]) -> list[list[Sourced]]:
    """GPU groups across the rig's sources, ordered as the highest-precedence source lists them."""
    ordered = sorted(group, key=lambda s: (HARDWARE.index(s[0]), s[1]))
    groups: list[list[Sourced]] = []
    for kind, position, rig in ordered:
        untouched = list(groups)  # groups this source has not matched yet
        unmatched = []
        for gpu in rig.gpus:
            target = next((g for g in untouched if _same_card(g, gpu)), None)
            if target is None:
                unmatched.append(gpu)
            else:
                target.append((kind, position, gpu))
                untouched.remove(target)
        # Nothing to match on (a file or minerstat lists no bus ids): pair in listed order when
        # the counts agree and no pair has ids on both sides (those would have matched above).
        if (
            unmatched
            and len(untouched) == len(unmatched)
            and not any(_ids(gpu) and _group_ids(g) for g, gpu in zip(untouched, unmatched, strict=True))
        ):
            for target, gpu in zip(untouched, unmatched, strict=True):
                target.append((kind, position, gpu))
        else:
            groups.extend([(kind, position, gpu)] for gpu in unmatched)
    return groups


def _ids(gpu: Gpu) -> set[str]:
    ids = set()
    if gpu.bus_id:
        ids.add("bus:" + normalise_bus_id(gpu.bus_id))
    if gpu.uuid:
        ids.add("uuid:" + gpu.uuid.lower())
    return ids


def _group_ids(group: list[Sourced]) -> set[str]:
    return set().union(*(_ids(s[2]) for s in group))


def _same_card(group: list[Sourced], gpu: Gpu) -> bool:
    wanted = _ids(gpu)
    return bool(wanted) and any(_ids(s[2]) & wanted for s in group)


def _merge_model(
    cls: type[M], group: list[Sourced], label: str, notes: list[str], skip: frozenset[str] = frozenset()
) -> M:
    if len(group) == 1:  # one source: nothing to reconcile (and a 100,000-GPU import is 2x faster)
        only: M = group[0][2]
        return only.model_copy()
    values: dict[str, Any] = {}
    # The reported name and its did-you-mean go with whichever source's model wins.
    follow_model = {"reported_name", "name_suggestions"} if "model" in cls.model_fields else set()
    for name in cls.model_fields:
        if name in skip or name in follow_model:
            continue
        given = [(k, p, getattr(o, name), o) for k, p, o in group if _given(o, name)]
        if not given:
            continue
        if name == "labels":
            merged: dict[str, str] = {}
            for entry in sorted(given, key=lambda g: (HARDWARE.index(g[0]), g[1]), reverse=True):
                merged.update(entry[2])
            values[name] = merged
            continue
        order = precedence(name)
        given.sort(key=lambda g: (order.index(g[0]), g[1]))
        if name == "model":  # a resolved catalog key beats an unresolved name, whatever the source
            given.sort(key=lambda g: g[2] == UNRESOLVED_MODEL)
        kind, _, value, winner = given[0]
        values[name] = value
        if name == "model":
            for follower in follow_model:
                if follower in winner.model_fields_set:
                    values[follower] = getattr(winner, follower)
        if name in _IDENTITY_FIELDS:
            for other_kind, _, other, _ in given[1:]:
                if not _agree(other, value):
                    notes.append(
                        f"{label}: {name} {_show(value)} from {kind} kept over {_show(other)} "
                        f"from {other_kind}"
                    )
    if "site" in cls.model_fields and "site" not in values:
        values["site"] = UNASSIGNED_SITE  # no source knew the site
    return cls(**values)


def _given(obj: BaseModel, name: str) -> bool:
    value = getattr(obj, name)
    if name == "site" and value == UNASSIGNED_SITE:  # a source that knows no site said nothing
        return False
    return name in obj.model_fields_set and value is not None


def _agree(a: Any, b: Any) -> bool:
    """Equal, or numbers within 10% (HiveOS reports usable RAM: 7.67 GiB of an 8 GB stick)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= 0.1 * max(abs(a), abs(b))
    return bool(a == b)


def _show(value: Any) -> str:
    if isinstance(value, BaseModel):
        return str(value.model_dump(exclude_none=True))
    return repr(value)


def _norm(name: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "", (name or "").lower())
