"""The estimator behind the assessment, cached by what actually changes its answer.

The estimator costs about a millisecond a call (it searches for the largest context that fits), and
a farm asks the same question of thousands of identical cards behind different disks, risers and
power limits. Those three only rescale the answer, so they stay out of the cache key and are applied
afterwards, exactly as the estimator applies them (tests/assess/test_real_estimator.py checks the
rescaled answers against direct calls).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rigshift.assess.tools import Estimator, SpeedFactor
from rigshift.estimate.types import Estimate, GpuSlot, Hardware, Workload

REFERENCE_DISK_GBS = 0.5  # the disk every estimate is made with; rescaled per rig


class CachedEstimator:
    """One per assessment run: the caches live as long as the run, nothing is global."""

    def __init__(self, estimator: Estimator, speed_factor: SpeedFactor):
        self._estimator = estimator
        self._speed_factor = speed_factor
        self._estimates: dict[tuple[Workload, tuple[GpuSlot, ...]], Estimate] = {}
        self._adjusted: dict[tuple[Workload, tuple[GpuSlot, ...], float], Estimate] = {}
        self._power: dict[tuple[str, float, float | None, str], float] = {}

    def estimate(self, workload: Workload, slots: tuple[GpuSlot, ...], disk_read_gbs: float) -> Estimate:
        """The estimator's answer for `workload` layer-split over `slots`, cached by what matters.

        The estimator costs milliseconds a call (it searches for the largest context that fits),
        so three inputs that only rescale its answer are taken out of the cache key and applied
        afterwards, exactly as the estimator applies them:
        - the disk: load time from disk is file bytes / read rate, so it scales with 1/rate;
        - for one GPU, the link: it carries only the weights, once, at load time (1/rate too);
        - the power limit: decode and prefill speeds are multiplied by the slowest GPU's
          `speed_factor_at_power_limit` (rigshift.estimate.power); memory is unaffected.
        """
        outer = (workload, slots, disk_read_gbs)
        adjusted = self._adjusted.get(outer)
        if adjusted is None:
            adjusted = self._adjusted[outer] = self._estimate(workload, slots, disk_read_gbs)
        return adjusted

    def _estimate(self, workload: Workload, slots: tuple[GpuSlot, ...], disk_read_gbs: float) -> Estimate:
        single = len(slots) == 1
        if single:
            # One GPU: the link only carries the weights at load time (no activations cross it),
            # so the card's own link stands in for every riser and load time is rescaled below.
            reference: tuple[GpuSlot, ...] = (replace(slots[0], link=None, power_limit_w=None),)
        else:
            reference = tuple(s if s.power_limit_w is None else replace(s, power_limit_w=None) for s in slots)
        key = (workload, reference)
        found = self._estimates.get(key)
        if found is None:
            hardware = Hardware(gpus=reference, split_mode="layer", disk_read_gbs=REFERENCE_DISK_GBS)
            found = self._estimates[key] = self._estimator(workload, hardware)
        changes: dict[str, Any] = {}
        link_s, disk_s = found.load_seconds_link, found.load_seconds_disk
        if single and slots[0].link is not None:
            own, actual = reference[0].effective_link.gbs, slots[0].effective_link.gbs
            if actual != own:
                link_s = found.load_seconds_link * own / actual
                changes.update(load_seconds_link=link_s)
        if disk_read_gbs != REFERENCE_DISK_GBS:
            disk_s = found.load_seconds_disk * REFERENCE_DISK_GBS / disk_read_gbs
            changes.update(load_seconds_disk=disk_s)
        if changes:
            changes.update(load_seconds=max(disk_s, link_s))
        if any(s.power_limit_w is not None for s in slots):
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
