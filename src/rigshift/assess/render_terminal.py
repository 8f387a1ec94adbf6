"""The assessment on a terminal: a summary that fits one screen, per-GPU rows on request."""

from __future__ import annotations

from collections import Counter

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from rigshift.assess.types import ClassResult, FleetAssessment, GpuProfile, RigAssessment

_TOP_CARDS = 8
_TOP_REASONS = 8
_TOP_UNLOCKS = 5
_TOP_RIG_SHAPES = 4


def render_summary(a: FleetAssessment) -> RenderableType:
    s = a.summary
    head = Text.assemble(
        (f"{a.fleet}: ", "bold"), (s.headline, "bold green" if s.ready_share else "bold red"), "\n",
        (s.criteria, "dim"), "\n",
        (f"{s.gpus:,} GPUs in {s.rigs:,} rigs, {s.vram_gib:,.0f} GiB VRAM", ""),
    )  # fmt: skip

    tiers = Table(title="AI-ready by tier (serves this class or larger)", title_justify="left", expand=False)
    for col in ("tier", "GPUs", "share", "VRAM GiB", "VRAM share"):
        tiers.add_column(col, justify="left" if col == "tier" else "right")
    for t in s.tiers:
        tiers.add_row(
            t.tier.value, f"{t.gpus:,}", f"{t.gpu_share:.1%}", f"{t.vram_gib:,.0f}", f"{t.vram_share:.1%}"
        )

    cards = Table(title="By card model", title_justify="left")
    for col in ("card", "GPUs", "AI-ready", "tiers", "confidence"):
        cards.add_column(col, justify="left" if col in ("card", "tiers", "confidence") else "right")
    for row in s.by_card_model[:_TOP_CARDS]:
        tier_text = " ".join(f"{k}:{v}" for k, v in sorted(row.tiers.items()))
        confidence = Text(row.confidence or "-", style="yellow" if row.uncalibrated else "")
        cards.add_row(row.gpu_name, f"{row.gpus:,}", f"{row.ready_gpus:,}", tier_text, confidence)
    guessed = sum(row.gpus for row in s.by_card_model if row.uncalibrated)
    if guessed:
        cards.caption = (
            f"{guessed:,} GPUs are of uncalibrated classes: their verdicts rest on assumed factors "
            "(run `rigshift bench` on one, or `rigshift bench import` published results)"
        )
    if len(s.by_card_model) > _TOP_CARDS:
        more = f"+ {len(s.by_card_model) - _TOP_CARDS} more card models (--json or --html for all)"
        cards.caption = f"{cards.caption}; {more}" if cards.caption else more

    reasons = Table(title="What holds GPUs back", title_justify="left")
    for col in ("reason", "limits next tier", "not AI-ready", "caveat"):
        reasons.add_column(col, justify="left" if col == "reason" else "right")
    for r in s.by_reason[:_TOP_REASONS]:
        reasons.add_row(r.text, f"{r.gpus_limited:,}", f"{r.gpus_not_ready:,}", f"{r.gpus_caveat:,}")

    unlocks = Table(title="Actions that unlock the most", title_justify="left")
    unlocks.add_column("action")
    unlocks.add_column("effect (re-assessed)")
    for u in s.unlocks[:_TOP_UNLOCKS]:
        unlocks.add_row(u.text, u.effect)

    recs = Text("Recommended use: ", style="bold")
    recs.append(" · ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in s.by_recommendation.items()))

    parts: list[RenderableType] = [Panel(head, expand=False), tiers, cards, reasons]
    if s.unlocks:
        parts.append(unlocks)
    parts.append(_rig_shapes(a.rigs))
    parts.append(recs)
    return Group(*parts)


def _rig_shapes(rigs: list[RigAssessment]) -> RenderableType:
    """The most common rig shapes and their best options: a 1,000-rig farm has a handful of shapes."""
    shapes: Counter[tuple[int, float, str]] = Counter()
    example: dict[tuple[int, float, str], RigAssessment] = {}
    for rig in rigs:
        key = (rig.gpus, rig.vram_gib, "|".join(o.text for o in rig.options))
        shapes[key] += 1
        example.setdefault(key, rig)
    table = Table(title="What whole rigs can do (most common shapes)", title_justify="left")
    for col in ("rigs", "e.g.", "GPUs", "VRAM", "options"):
        table.add_column(col, justify="right" if col in ("rigs", "GPUs", "VRAM") else "left")
    for key, count in shapes.most_common(_TOP_RIG_SHAPES):
        rig = example[key]
        best = [o for o in rig.options if o.kind == "replicas"][:1] + [
            o for o in rig.options if o.kind == "split"
        ][:2]
        table.add_row(
            f"{count:,}", rig.name, str(rig.gpus), f"{rig.vram_gib:g}",
            "\n".join(o.text for o in best) or "nothing meets the criteria",
        )  # fmt: skip
    return table


def render_details(a: FleetAssessment) -> Table:
    """One row per GPU."""
    table = Table(title="Per GPU", title_justify="left")
    for col in ("rig", "#", "card", "VRAM", "link", "tier", "best model", "tok/s", "use", "limited by"):
        table.add_column(col, justify="right" if col in ("#", "VRAM", "tok/s") else "left")
    for g in a.gpus:
        p = a.profile(g.profile)
        best = _best(p)
        table.add_row(
            g.rig, str(g.index), p.gpu_name, f"{g.vram_gib:g}", p.link or "?", g.tier,
            f"{best.model} {best.quant}" if best else "-", f"{best.decode_tps:.0f}" if best else "-",
            g.recommendation.value, g.primary_reason.value if g.primary_reason else "-",
        )  # fmt: skip
    return table


def _best(p: GpuProfile) -> ClassResult | None:
    usable = [c for c in p.classes if c.usable]
    return usable[-1] if usable else None


def print_assessment(a: FleetAssessment, console: Console, details: bool = False) -> None:
    console.print(render_summary(a))
    if details:
        console.print(render_details(a))
