"""The decision for people: the funnel beside the published figure, the step that removes the most
cards and what would move them, the money now and after. Every view prints it the same way."""

from __future__ import annotations

import html

from rich.console import Console
from rich.table import Table

from rigshift.decision.compute import usd
from rigshift.decision.types import DecisionSummary

_LABELS = {
    "gpus": "GPUs in the fleet",
    "capable": "capable (the card serves the class)",
    "hostable": "hostable now (its rig runs a replica today)",
    "viable": "viable (meets the service level)",
    "converted": "worth converting (pays at this demand)",
    "placed": "placed (a replica for the demand)",
}


def funnel_rows(summary: DecisionSummary) -> list[tuple[str, int, float]]:
    counts = summary.funnel.model_dump()
    total = counts["gpus"] or 1
    return [(_LABELS[k], v, v / total) for k, v in counts.items()]


def print_decision(summary: DecisionSummary, console: Console) -> None:
    """The funnel table, the verdict, the largest drop and what would move it."""
    table = Table(
        title=f"The farm decision ({summary.headline_class} chat; {summary.service_level})",
        title_justify="left",
    )
    table.add_column("step")
    table.add_column("GPUs", justify="right")
    table.add_column("share", justify="right")
    for label, count, share in funnel_rows(summary):
        table.add_row(label, f"{count:,}", f"{share:.1%}")
    console.print(table)
    p = summary.published
    console.print(
        f"Published: {p.low:.0%}-{p.high:.0%} of mining GPUs usable for AI ({p.source}, {p.as_of}); "
        f"here {summary.share_worth_converting:.1%} are worth converting, "
        f"{summary.funnel.viable / max(summary.funnel.gpus, 1):.1%} viable."
    )
    console.print(f"Verdict: {summary.verdict}")
    drop = summary.largest_drop
    if drop is not None and drop.gpus_removed:
        console.print(f"Most cards drop out at '{drop.step}' ({drop.gpus_removed:,} GPUs): {drop.why}.")
        for action in drop.actions[:4]:
            console.print(f"  - {action}")
    if summary.batch_only_gpus:
        console.print(f"{summary.batch_only_gpus:,} hostable GPUs fail the service level: batch only.")
    if summary.placement is not None:
        pl = summary.placement
        console.print(
            f"Placement: {pl.replicas} replicas on the converted cards (miners on them stopped, their "
            f"mining income counted lost); {pl.tokens_per_day / 1e6:,.1f} M tokens/day of the demand at "
            f"<= {pl.utilisation:.0%} utilisation"
        )
    step = summary.scheduled
    if step is not None and step.price_series is not None:
        console.print(
            f"Scheduled: the {step.converted_gpus:,} converted GPUs run {step.hours_on:,.0f} of {step.hours:,.0f} h "
            f"({step.share_on:.0%}) of {step.price_series}: the hours serving pays for its power"
        )
    elif step is not None:
        console.print(f"Scheduled: {step.note}")
    console.print(
        f"Monthly net: {usd(summary.monthly_net_usd.now)} now → {usd(summary.monthly_net_usd.after)} after. "
        f"Inputs digest {summary.inputs_digest[:19]}"
    )


def decision_html(summary: DecisionSummary) -> str:
    """A self-contained block for the HTML reports (inserted at the top of the body)."""
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td><td style='text-align:right'>{count:,}</td>"
        f"<td style='text-align:right'>{share:.1%}</td></tr>"
        for label, count, share in funnel_rows(summary)
    )
    p = summary.published
    return (
        "<section id='decision'><h2>The farm decision</h2>"
        f"<p>{html.escape(summary.verdict)}</p>"
        f"<table>{rows}</table>"
        f"<p>Published: {p.low:.0%}-{p.high:.0%} of mining GPUs usable for AI "
        f"({html.escape(p.source)}, {p.as_of}).</p>"  # as text: the report links to nothing
        f"<p>Service level: {html.escape(summary.service_level)}. Inputs digest "
        f"<code>{html.escape(summary.inputs_digest)}</code>.</p></section>"
    )


def with_decision_html(page: str, summary: DecisionSummary) -> str:
    marker = page.find("<body")
    if marker < 0:
        return decision_html(summary) + page
    end = page.find(">", marker) + 1
    return page[:end] + decision_html(summary) + page[end:]
