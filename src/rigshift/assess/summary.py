"""The fleet summary: shares per tier, the headline percentage, counts per card model and reason.

Everything is counted per profile and weighted by how many GPUs share it, so summarising a
100,000-GPU fleet costs as much as summarising its few hundred profiles.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from rigshift.assess.criteria import CLASSES, ReadinessCriteria, tier_rank
from rigshift.assess.types import (
    CardModelCount,
    FleetSummary,
    GpuProfile,
    Reason,
    ReasonCount,
    TierShare,
    UnassessedCard,
    Unlock,
)


def summarize(
    profiles: Sequence[GpuProfile], rigs: int, criteria: ReadinessCriteria, unlocks: list[Unlock]
) -> FleetSummary:
    total_gpus = sum(p.gpus for p in profiles)
    unknown = [p for p in profiles if p.primary_reason == Reason.UNKNOWN_GPU]
    # Unknown cards are counted and listed, never judged: shares are over the assessed GPUs.
    profiles = [p for p in profiles if p.primary_reason != Reason.UNKNOWN_GPU]
    gpus = sum(p.gpus for p in profiles)
    vram = sum(p.vram_gib * p.gpus for p in profiles)
    ready = sum(p.gpus for p in profiles if p.headline_ready)
    ready_vram = sum(p.vram_gib * p.gpus for p in profiles if p.headline_ready)

    tiers = []
    for model_class in CLASSES:
        at = [p for p in profiles if tier_rank(p.tier) >= model_class.rank]
        n = sum(p.gpus for p in at)
        v = sum(p.vram_gib * p.gpus for p in at)
        tiers.append(
            TierShare(
                tier=model_class,
                gpus=n,
                gpu_share=_share(n, gpus),
                vram_gib=round(v, 1),
                vram_share=_share(v, vram),
            )
        )

    by_model: dict[str, CardModelCount] = {}
    for p in profiles:
        row = by_model.setdefault(
            p.gpu_model,
            CardModelCount(gpu_model=p.gpu_model, gpu_name=p.gpu_name, gpus=0, ready_gpus=0, vram_gib=0),
        )
        row.gpus += p.gpus
        row.ready_gpus += p.gpus if p.headline_ready else 0
        row.vram_gib = round(row.vram_gib + p.vram_gib * p.gpus, 1)
        row.tiers[p.tier] = row.tiers.get(p.tier, 0) + p.gpus
        shown = p.class_result(criteria.headline_class) or (p.classes[0] if p.classes else None)
        if shown is not None and shown.provenance and not row.confidence:
            row.confidence = shown.provenance
            row.uncalibrated = shown.uncalibrated

    limited: Counter[Reason] = Counter()
    blocked: Counter[Reason] = Counter()
    caveat: Counter[Reason] = Counter()
    not_ready: Counter[Reason] = Counter()
    for p in profiles:
        if p.primary_reason is not None:
            limited[p.primary_reason] += p.gpus
            if not p.headline_ready:
                not_ready[p.primary_reason] += p.gpus
        kinds: dict[Reason, set[bool]] = defaultdict(set)
        for limit in p.limits:
            kinds[limit.reason].add(limit.blocking)
        for reason, flags in kinds.items():
            if True in flags:
                blocked[reason] += p.gpus
            else:
                caveat[reason] += p.gpus
    reasons = [
        ReasonCount(
            reason=r,
            text=r.text,
            gpus_limited=limited[r],
            gpus_not_ready=not_ready[r],
            gpus_blocked=blocked[r],
            gpus_caveat=caveat[r],
        )
        for r in Reason
        if limited[r] or blocked[r] or caveat[r]
    ]
    reasons.sort(key=lambda r: (-r.gpus_limited, -r.gpus_blocked, -r.gpus_caveat, r.reason.value))

    recommendations: Counter[str] = Counter()
    for p in profiles:
        recommendations[p.recommendation.value] += p.gpus

    share = _share(ready, gpus)
    headline = (
        f"{share:.1%} of GPUs ({ready:,} of {gpus:,}) and {_share(ready_vram, vram):.1%} of VRAM are AI-ready"
        # Card-level: the farm decision (docs/decision.md) applies the host, the service level and money.
        " as cards, before hosts, service level and money (the farm decision)"
    )
    unassessed = unassessed_cards(unknown)
    skipped = sum(u.gpus for u in unassessed)
    if skipped:
        headline += f"; {skipped:,} GPU(s) of unknown card models unassessed"
    return FleetSummary(
        gpus=total_gpus,
        unassessed_gpus=skipped,
        unassessed=unassessed,
        rigs=rigs,
        vram_gib=round(vram, 1),
        ready_gpus=ready,
        ready_share=share,
        ready_vram_gib=round(ready_vram, 1),
        ready_vram_share=_share(ready_vram, vram),
        headline=headline,
        criteria="AI-ready = " + criteria.describe(),
        tiers=tiers,
        by_card_model=sorted(by_model.values(), key=lambda r: (-r.gpus, r.gpu_model)),
        by_reason=reasons,
        by_recommendation=dict(recommendations.most_common()),
        unlocks=unlocks,
    )


UNASSESSED_HINT = (
    "not in the GPU catalog: check the name in the inventory (`rigshift fleet show` lists"
    " did-you-mean names) or add the card to the catalog overlay, then assess again"
)


def unassessed_cards(profiles: Sequence[GpuProfile]) -> list[UnassessedCard]:
    counts: Counter[str] = Counter()
    for p in profiles:
        counts[p.gpu_name] += p.gpus
    return [UnassessedCard(gpu_name=name, gpus=n, hint=UNASSESSED_HINT) for name, n in counts.most_common()]


def _share(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0
