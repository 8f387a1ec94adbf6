"""The assessment on a terminal: a summary that fits one screen, per-GPU rows on request."""

from __future__ import annotations

from collections import Counter

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from rigshift.assess.types import ClassResult, FleetAssessment, GpuProfile, RigAssessment
from rigshift.tables import Col, fitted_table

_TOP_CARDS = 8
_TOP_REASONS = 8
_TOP_UNLOCKS = 5
_TOP_RIG_SHAPES = 4


def render_summary(a: FleetAssessment, width: int = 100) -> RenderableType:
    s = a.summary
    unassessed = f" ({s.unassessed_gpus:,} unassessed)" if s.unassessed_gpus else ""
    head = Text.assemble(
        (f"{a.fleet}: ", "bold"), (s.headline, "bold green" if s.ready_share else "bold red"), "\n",
        (s.criteria, "dim"), "\n",
        (f"{s.gpus:,} GPUs{unassessed} in {s.rigs:,} rigs, {s.vram_gib:,.0f} GiB VRAM", ""),
    )  # fmt: skip

    tiers = fitted_table(
        (Col("tier"), Col("GPUs", "right"), Col("share", "right"), Col("VRAM GiB", "right", drop=2),
         Col("VRAM share", "right", drop=1)),
        [(t.tier.value, f"{t.gpus:,}", f"{t.gpu_share:.1%}", f"{t.vram_gib:,.0f}", f"{t.vram_share:.1%}")
         for t in s.tiers],
        width, title="AI-ready by tier (serves this class or larger)",
    )  # fmt: skip

    more = len(s.by_card_model) - _TOP_CARDS
    guessed = sum(row.gpus for row in s.by_card_model if row.uncalibrated)
    notes = []
    if guessed:
        notes.append(
            f"{guessed:,} GPUs rest on priors alone (nothing measured on them): their speeds are "
            "intervals whose low end is what money may count on (run `rigshift bench` on one, or "
            "`rigshift bench import` published results)"
        )
    if more > 0:
        notes.append(f"+ {more} more card models (--json or --html for all)")
    for vague in s.ambiguous_names:
        sizes = " or ".join(f"{v:g}" for v in vague.variants_gib)
        notes.append(
            f"ambiguous GPU name {vague.reported_name!r} x{vague.count}: {sizes} GiB; assessed as "
            f"{vague.decided_gib:g} GiB (the smaller) until the inventory gives vram_gib"
        )
    cards = fitted_table(
        (Col("card"), Col("GPUs", "right"), Col("AI-ready", "right"), Col("tiers", wrap=True, drop=2),
         Col("confidence", wrap=True, drop=1)),
        [(row.gpu_name, f"{row.gpus:,}", f"{row.ready_gpus:,}",
          " ".join(f"{k}:{v}" for k, v in sorted(row.tiers.items())),
          row.confidence or "-")
         for row in s.by_card_model[:_TOP_CARDS]],
        width, title="By card model", caption="; ".join(notes) or None,
    )  # fmt: skip

    reasons = fitted_table(
        (Col("reason", wrap=True), Col("limits next tier", "right"), Col("not AI-ready", "right", drop=1),
         Col("caveat", "right", drop=2)),
        [(r.text, f"{r.gpus_limited:,}", f"{r.gpus_not_ready:,}", f"{r.gpus_caveat:,}")
         for r in s.by_reason[:_TOP_REASONS]],
        width, title="What holds GPUs back",
    )  # fmt: skip

    unlocks = fitted_table(
        (Col("action", wrap=True), Col("effect (re-assessed)", wrap=True)),
        [(u.text, u.effect) for u in s.unlocks[:_TOP_UNLOCKS]],
        width, title="Actions that unlock the most",
    )  # fmt: skip

    recs = Text("Recommended use: ", style="bold")
    recs.append(" · ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in s.by_recommendation.items()))

    parts: list[RenderableType] = [Panel(head, expand=False), tiers, cards, reasons]
    if s.unlocks:
        parts.append(unlocks)
    parts.append(_rig_shapes(a.rigs, width))
    parts.append(recs)
    if s.unassessed:
        parts.append(
            fitted_table(
                (Col("card as reported"), Col("GPUs", "right"), Col("what to do", wrap=True)),
                [(u.gpu_name, f"{u.gpus:,}", u.hint) for u in s.unassessed],
                width, title="Unassessed: card models the catalog does not know (left out of the shares)",
            )
        )  # fmt: skip
    return Group(*parts)


def _rig_shapes(rigs: list[RigAssessment], width: int) -> RenderableType:
    """The most common rig shapes and their best options: a 1,000-rig farm has a handful of shapes."""
    shapes: Counter[tuple[int, float, str]] = Counter()
    example: dict[tuple[int, float, str], RigAssessment] = {}
    for rig in rigs:
        key = (rig.gpus, rig.vram_gib, "|".join(o.text for o in rig.options))
        shapes[key] += 1
        example.setdefault(key, rig)
    rows = []
    for key, count in shapes.most_common(_TOP_RIG_SHAPES):
        rig = example[key]
        best = [o for o in rig.options if o.kind == "replicas"][:1] + [
            o for o in rig.options if o.kind == "split"
        ][:2]
        rows.append(
            (f"{count:,}", rig.name, str(rig.gpus), f"{rig.vram_gib:g}",
             "\n".join(o.text for o in best) or "nothing meets the criteria")
        )  # fmt: skip
    columns = (
        Col("rigs", "right"), Col("e.g.", drop=1), Col("GPUs", "right"), Col("VRAM", "right", drop=2),
        Col("options", wrap=True),
    )  # fmt: skip
    return fitted_table(columns, rows, width, title="What whole rigs can do (most common shapes)")


def render_details(a: FleetAssessment, width: int = 100) -> RenderableType:
    """One row per GPU."""
    rows = []
    for g in a.gpus:
        p = a.profile(g.profile)
        best = _best(p)
        rows.append(
            (g.rig, str(g.index), p.gpu_name, f"{g.vram_gib:g}", p.link or "?", g.tier,
             f"{best.model} {best.quant}" if best else "-", f"{best.decode_tps:.0f}" if best else "-",
             g.recommendation.value, g.primary_reason.value if g.primary_reason else "-")
        )  # fmt: skip
    columns = (
        Col("rig"), Col("#", "right"), Col("card"), Col("VRAM", "right", drop=4), Col("link", drop=3),
        Col("tier"), Col("best model", drop=2), Col("tok/s", "right", drop=5), Col("use", drop=1),
        Col("limited by", drop=6),
    )  # fmt: skip
    return fitted_table(columns, rows, width, title="Per GPU")


def _best(p: GpuProfile) -> ClassResult | None:
    usable = [c for c in p.classes if c.usable]
    return usable[-1] if usable else None


def print_assessment(a: FleetAssessment, console: Console, details: bool = False) -> None:
    console.print(render_summary(a, console.width))
    if details:
        console.print(render_details(a, console.width))
