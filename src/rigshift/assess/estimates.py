"""The estimator behind the assessment, cached by what actually changes its answer.

The estimator costs about a millisecond a call (it searches for the largest context that fits), and
a farm asks the same question of thousands of identical cards behind different disks, risers and
power limits. Those three only rescale the answer, so they stay out of the cache key and are applied
afterwards, exactly as the estimator applies them (tests/assess/test_real_estimator.py checks the
rescaled answers against direct calls):

- the disk: load time from disk is file bytes / read rate, so it scales with 1/rate;
- for one GPU, the link: it carries only the weights, once, at load time (1/rate too);
- the power limit: decode and prefill speeds are multiplied by the slowest GPU's
  `speed_factor_at_power_limit` (rigshift.estimate.power); memory is unaffected.

Caches are keyed by slot keys (tuples of plain values) and a workload's identity rather than by the
`GpuSpec`/`ModelSpec` dataclasses themselves, whose hashes Python recomputes field by field on every
lookup: at 100,000 GPUs that alone cost about a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

from rigshift.assess.keys import SlotKey
from rigshift.assess.tools import Estimator, SpeedFactor
from rigshift.estimate.types import Estimate, GpuSlot, Hardware, Workload

REFERENCE_DISK_GBS = 0.5  # the disk every estimate is made with; rescaled per rig

_WORKLOAD_FIELDS = tuple(f.name for f in fields(Workload) if f.name != "model")
WorkloadId = tuple[Any, ...]


def workload_id(workload: Workload) -> WorkloadId:
    return (workload.model.key, *(getattr(workload, name) for name in _WORKLOAD_FIELDS))


class CachedEstimator:
    """One per assessment run: the caches live as long as the run, nothing is global."""

    def __init__(
        self, estimator: Estimator, speed_factor: SpeedFactor, slot_of: Callable[[SlotKey], GpuSlot]
    ):
        self._estimator = estimator
        self._speed_factor = speed_factor
        self._slot_of = slot_of
        self._estimates: dict[tuple[WorkloadId, tuple[SlotKey, ...]], Estimate] = {}
        self._adjusted: dict[tuple[WorkloadId, tuple[SlotKey, ...]], Estimate] = {}
        self._power: dict[tuple[str, float, float | None, str], float] = {}

    def estimate(self, workload: Workload, keys: tuple[SlotKey, ...]) -> Estimate:
        """`workload` layer-split over the GPUs of `keys` (one key: the GPU alone), with the disk of
        the first key (the GPUs of one split share a rig)."""
        outer = (workload_id(workload), keys)
        found = self._adjusted.get(outer)
        if found is None:
            found = self._adjusted[outer] = self._estimate(workload, outer[0], keys)
        return found

    def _estimate(self, workload: Workload, wid: WorkloadId, keys: tuple[SlotKey, ...]) -> Estimate:
        single = len(keys) == 1
        reference: tuple[SlotKey, ...]
        if single:
            # One GPU: the link only carries the weights at load time (no activations cross it),
            # so the card's own link stands in for every riser and load time is rescaled below.
            reference = (keys[0]._replace(link=None, power_limit_w=None, disk_read_gbs=REFERENCE_DISK_GBS),)
        else:
            reference = tuple(k._replace(power_limit_w=None, disk_read_gbs=REFERENCE_DISK_GBS) for k in keys)
        found = self._estimates.get((wid, reference))
        if found is None:
            gpus = tuple(self._slot_of(k) for k in reference)
            hardware = Hardware(gpus=gpus, split_mode="layer", disk_read_gbs=REFERENCE_DISK_GBS)
            found = self._estimates[(wid, reference)] = self._estimator(workload, hardware)
        return self._rescale(workload, found, keys, single)

    def _rescale(
        self, workload: Workload, found: Estimate, keys: tuple[SlotKey, ...], single: bool
    ) -> Estimate:
        changes: dict[str, Any] = {}
        link_s, disk_s = found.load_seconds_link, found.load_seconds_disk
        if single and keys[0].link is not None:
            slot = self._slot_of(keys[0])
            own, actual = replace(slot, link=None).effective_link.gbs, slot.effective_link.gbs
            if actual != own:
                link_s = found.load_seconds_link * own / actual
                changes.update(load_seconds_link=link_s)
        disk = keys[0].disk_read_gbs
        if disk != REFERENCE_DISK_GBS:
            disk_s = found.load_seconds_disk * REFERENCE_DISK_GBS / disk
            changes.update(load_seconds_disk=disk_s)
        if changes:
            changes.update(load_seconds=max(disk_s, link_s))
        if any(k.power_limit_w is not None for k in keys):
            slots = [self._slot_of(k) for k in keys]
            decode = min(self.power_factor(s, "decode") for s in slots)
            prefill = min(self.power_factor(s, "prefill") for s in slots)
            if decode != 1.0 or prefill != 1.0:
                d1, pf = found.decode_tokens_per_s * decode, found.prefill_tokens_per_s * prefill
                changes.update(
                    decode_tokens_per_s=d1,
                    decode_tokens_per_s_total=found.decode_tokens_per_s_total * decode,
                    prefill_tokens_per_s=pf,
                    ttft_s=(workload.prompt_tokens / pf if pf else 0.0) + (1 / d1 if d1 else 0.0),
                )
        return replace(found, **changes) if changes else found

    def power_factor(self, slot: GpuSlot, phase: str) -> float:
        key = (slot.spec.key, slot.spec.tdp_w, slot.power_limit_w, phase)
        found = self._power.get(key)
        if found is None:
            found = self._power[key] = self._speed_factor(slot.spec, slot.power_limit_w, phase)
        return found
