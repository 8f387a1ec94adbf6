"""The first three steps of the funnel, per GPU: capable → hostable now → viable.

Read from the assessment (rigshift.assess), which already judged every GPU profile against the
criteria; this module only sorts its verdicts into steps and applies what the assessment leaves to
the rig (the shared host rule, rigshift.hosts) and to the workload (time to first token at the
workload's prompt length, from the prefill estimate):

- capable: the headline class fits the card's own VRAM at >= the quality and context floors with a
  GPU runtime (a miner holding VRAM, a slow riser or a small host do not matter yet);
- hostable now: nothing on the GPU or its rig stops a replica today (VRAM held by a miner, reserved
  for mining, too hot, a load-time limit, host RAM, cores or disk), and the rig's host has a slot
  for it (a rig of 8 cards whose host carries 2 replicas hosts its 2 fastest);
- viable: the replica meets the service level: >= `min_decode_tps` for one stream and a first token
  within `max_ttft_s` for a prompt of `prompt_tokens`. A hostable card that misses it is
  "batch only" (its throughput still sells to work that does not wait).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from rigshift.assess import ClassResult, FleetAssessment, GpuProfile, ReadinessCriteria, Reason
from rigshift.decision.types import GpuDecision
from rigshift.fleet.model import Fleet
from rigshift.hosts import HostCapacity, host_capacity

# Blockers that are the card's own: no fix on the rig makes it serve the class.
_CARD_BLOCKERS = frozenset({Reason.RUNTIME, Reason.UNKNOWN_GPU, Reason.FP16_RATE})
# Blockers of today's rig and operation: they stop hosting, not capability.
_SPEED_BLOCKERS = frozenset({Reason.MEMORY_BANDWIDTH})


@dataclass(frozen=True)
class ServiceLevel:
    """What a buyer of interactive inference waits for: the decision's "viable"."""

    min_decode_tps: float
    max_ttft_s: float
    prompt_tokens: int

    def describe(self) -> str:
        return (
            f">= {self.min_decode_tps:g} tokens/s for one stream and the first token within "
            f"{self.max_ttft_s:g} s for a {self.prompt_tokens:,}-token prompt"
        )


@dataclass
class FunnelResult:
    gpus: list[GpuDecision]
    # card class id ("site/gpu_model") -> viable GPU ids, fastest first (the conversion takes them in order)
    viable_by_class: dict[str, list[str]] = field(default_factory=dict)

    def count(self, *stages: str) -> int:
        return sum(1 for g in self.gpus if g.stage in stages)


def gpu_id(site: str, rig: str, position: int) -> str:
    return f"{site}/{rig}/{position}"


def class_id(site: str, gpu_model: str) -> str:
    """The economics' card class id (rigshift.econ.classes): one GPU model at one site."""
    return f"{site}/{gpu_model}"


def _card_fits(profile: GpuProfile, result: ClassResult) -> bool:
    return result.model is not None and result.vram_needed_gib <= profile.vram_gib + 1e-9


FitsAlone = Callable[[GpuProfile], bool]  # the headline class fits the card with nothing else on it


def _capable(profile: GpuProfile, result: ClassResult | None, fits_alone: FitsAlone) -> str | None:
    """None when capable, else why not."""
    if result is None:
        return "the card serves no chat model of the class"
    if result.usable:
        return None
    blockers = set(result.blockers)
    card = blockers & _CARD_BLOCKERS
    if card:
        return ", ".join(sorted(b.text for b in card))
    if Reason.VRAM in blockers:
        held = profile.vram_free_gib < profile.vram_gib - 1e-9
        # With a miner holding VRAM the assessment's figures are of the card as it is today: ask
        # whether the class fits the card alone (the miner stopped) before calling it incapable.
        fits = fits_alone(profile) if held else _card_fits(profile, result)
        if not fits:
            return Reason.VRAM.text + f" ({profile.vram_gib:g} GiB card)"
    return None


def _ttft(result: ClassResult, prompt_tokens: int) -> float | None:
    return prompt_tokens / result.decision_prefill_tps if result.decision_prefill_tps > 0 else None


def funnel(
    fleet: Fleet,
    assessment: FleetAssessment,
    criteria: ReadinessCriteria,
    level: ServiceLevel,
    fits_alone: FitsAlone = lambda _: False,
) -> FunnelResult:
    """Every GPU of `fleet` through capable → hostable → viable (in fleet order); `fits_alone` says
    whether the headline class fits a card with no miner holding its VRAM (the estimator's)."""
    headline = criteria.headline_class
    host_rule = criteria.host()
    rows = iter(assessment.gpus)
    out: list[GpuDecision] = []
    viable: dict[str, list[tuple[float, str]]] = defaultdict(list)
    by_profile: dict[str, tuple[GpuProfile | None, ClassResult | None, str | None]] = {}
    capacities: dict[tuple[int | None, float | None, float | None, float, float], HostCapacity] = {}
    for rig in fleet.rigs:
        # Assessment rows are in fleet order, one per GPU (unknown cards included).
        entries: list[tuple[int, GpuProfile | None, ClassResult | None, str | None]] = []
        for position in range(len(rig.gpus)):
            row = next(rows)
            judged = by_profile.get(row.profile)
            if judged is None:  # GPUs sharing a profile share its verdict: judged once
                profile = assessment.profile(row.profile) if row.profile else None
                result = profile.class_result(headline) if profile is not None else None
                why = (
                    _capable(profile, result, fits_alone)
                    if profile is not None
                    else "GPU model not in the catalog"
                )
                judged = by_profile[row.profile] = (profile, result, why)
            profile, result, why = judged
            entries.append((position, profile, result, why))
        # Hostable now: no blocker but speed, then the rig's host slots, fastest first.
        candidates: list[tuple[int, GpuProfile, ClassResult]] = []
        stopped: dict[int, str] = {}
        for position, profile, result, why in entries:
            if why is not None or profile is None or result is None:
                continue
            today = set(result.blockers) - _SPEED_BLOCKERS
            if today:
                stopped[position] = ", ".join(sorted(b.text for b in today))
            else:
                candidates.append((position, profile, result))
        if candidates:
            shape = (rig.cpu_cores, rig.ram_gib, rig.disk_gib,
                     max(r.host_ram_gib for _, _, r in candidates), max(r.model_file_gib for _, _, r in candidates))  # fmt: skip
            cap = capacities.get(shape)
            if cap is None:  # thousands of rigs share a few hundred shapes
                cap = capacities[shape] = host_capacity(
                    shape[0], shape[1], shape[3], host_rule, disk_gib=shape[2], model_file_gib=shape[4]
                )
            ranked = sorted(candidates, key=lambda c: (-c[2].decision_decode_tps, c[0]))
            for position, _, _ in ranked[cap.replicas :]:
                stopped[position] = f"the host stops at {cap.replicas} replica(s): {cap.detail}"
        for position, profile, result, why in entries:
            gpu = rig.gpus[position]
            ident = gpu_id(rig.site, rig.name, position)
            if why is not None or profile is None or result is None:
                out.append(
                    GpuDecision(id=ident, rig=rig.name, site=rig.site, position=position,
                                gpu_model=gpu.model, stage="none", stopped_by=why)
                )  # fmt: skip
                continue
            ttft = _ttft(result, level.prompt_tokens)
            base = GpuDecision(
                id=ident, rig=rig.name, site=rig.site, position=position, gpu_model=gpu.model, stage="capable",
                decode_tps=round(result.decision_decode_tps, 2), ttft_s=None if ttft is None else round(ttft, 3),
            )  # fmt: skip
            if position in stopped:
                out.append(replace(base, stopped_by=stopped[position]))
                continue
            slow = []
            if result.decision_decode_tps + 1e-9 < level.min_decode_tps:
                slow.append(f"{result.decision_decode_tps:.1f} tokens/s < {level.min_decode_tps:g}")
            if ttft is None or ttft > level.max_ttft_s:
                shown = "no prefill estimate" if ttft is None else f"first token in {ttft:.1f} s"
                slow.append(f"{shown} > {level.max_ttft_s:g} s for {level.prompt_tokens:,} tokens")
            if slow:
                out.append(replace(base, stage="hostable", stopped_by="batch only: " + "; ".join(slow)))
                continue
            out.append(replace(base, stage="viable"))
            viable[class_id(rig.site, gpu.model)].append((-result.decision_decode_tps, ident))
    return FunnelResult(
        gpus=out, viable_by_class={k: [i for _, i in sorted(v)] for k, v in sorted(viable.items())}
    )
