"""`assess_fleet`: the whole assessment as one pure library call (no printing, no I/O).

Flow: every GPU gets a `ProfileKey` (what its verdict depends on); each distinct key is assessed
once (estimates cached by workload and hardware); rigs add split/replica options; unlock actions
re-assess the affected keys with a fix applied; the summary counts profiles weighted by GPUs.
"""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any

from rigshift.assess.criteria import ReadinessCriteria
from rigshift.assess.keys import ProfileKey, rig_keys
from rigshift.assess.profile import ProfileAssessor
from rigshift.assess.rig import RigAssessor
from rigshift.assess.summary import summarize
from rigshift.assess.tools import AssessTools, default_tools
from rigshift.assess.types import (
    AmbiguousName,
    FleetAssessment,
    GpuAssessment,
    GpuProfile,
    RigAssessment,
)
from rigshift.assess.unlocks import UnlockCosts, compute_unlocks
from rigshift.fleet.model import Fleet
from rigshift.fleet.summary import ambiguous_names


def assess_fleet(
    fleet: Fleet,
    criteria: ReadinessCriteria | None = None,
    tools: AssessTools | None = None,
    unlock_costs: UnlockCosts | None = None,
) -> FleetAssessment:
    """Assess every GPU and rig of `fleet` against `criteria` (defaults: >= Q4, >= 8k, >= 20 tok/s).

    With `unlock_costs` (econ builds them: `rigshift.econ.unlock_costs`) every unlock action is
    priced and the list ranked by monthly gain per dollar."""
    criteria = criteria or ReadinessCriteria()
    assessor = ProfileAssessor(tools or default_tools(), criteria)
    # Hundreds of thousands of small acyclic objects (keys, rows): the cyclic GC would rescan the
    # whole fleet again and again while they are built, so it is paused (as demo_fleet does).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _assess(fleet, criteria, assessor, unlock_costs)
    finally:
        if paused:
            gc.enable()


def _assess(
    fleet: Fleet,
    criteria: ReadinessCriteria,
    assessor: ProfileAssessor,
    unlock_costs: UnlockCosts | None = None,
) -> FleetAssessment:
    rig_assessor = RigAssessor(assessor)

    gpu_rows: list[GpuAssessment] = []
    rig_rows: list[RigAssessment] = []
    used: Counter[ProfileKey] = Counter()
    rig_configs: Counter[tuple[ProfileKey, ...]] = Counter()
    for rig in fleet.rigs:
        keys = rig_keys(rig, criteria)
        profiles = [assessor.profile(k) for k in keys]
        used.update(keys)
        rig_configs[tuple(keys)] += 1
        for index, (gpu, profile) in enumerate(zip(rig.gpus, profiles, strict=True)):
            gpu_rows.append(
                _trusted_row(
                    {
                        "rig": rig.name,
                        "site": rig.site,
                        "index": index,
                        "bus_id": gpu.bus_id,
                        "uuid": gpu.uuid,
                        "gpu_model": gpu.model,
                        "vram_gib": gpu.vram_gib,
                        "profile": profile.id,
                        "tier": profile.tier,
                        "ready": profile.headline_ready,
                        "recommendation": profile.recommendation,
                        "primary_reason": profile.primary_reason,
                    }
                )
            )
        rig_rows.append(rig_assessor.assess(rig, keys, profiles))

    fleet_profiles: list[GpuProfile] = []
    for key, count in used.items():
        profile = assessor.profile(key)
        profile.gpus = count
        fleet_profiles.append(profile)
    fleet_profiles.sort(key=lambda p: (-p.gpus, p.id))

    unlocks = compute_unlocks(assessor, rig_configs, criteria, unlock_costs)
    summary = summarize(fleet_profiles, len(fleet.rigs), criteria, unlocks)
    vague = ambiguous_names(fleet)
    if vague:
        summary.ambiguous_names = [AmbiguousName.model_validate(entry) for entry in vague]
    return FleetAssessment(
        fleet=fleet.name,
        criteria=criteria,
        summary=summary,
        profiles=fleet_profiles,
        gpus=gpu_rows,
        rigs=rig_rows,
    )


_ROW_FIELDS = frozenset(GpuAssessment.model_fields)


def _trusted_row(values: dict[str, Any]) -> GpuAssessment:
    """A GpuAssessment from values that come from validated models, every field given.

    This is what `model_construct` does (set __dict__, the fields-set, no extras, no private
    state) without its per-field alias and default handling, which made it 10 µs a row: a
    third of the whole assessment at 100,000 GPUs. tests/assess checks the rows against
    validated ones (the JSON round trip).
    """
    row = _new(GpuAssessment)
    _set(row, "__dict__", values)
    _set(row, "__pydantic_fields_set__", set(_ROW_FIELDS))
    _set(row, "__pydantic_extra__", None)
    _set(row, "__pydantic_private__", None)
    return row


_new = object.__new__
_set = object.__setattr__
