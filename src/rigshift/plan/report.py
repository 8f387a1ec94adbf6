"""A plan for people: what runs where, what it earns, what is unmet and what would change it.

The summary fits one screen whatever the fleet's size (replicas are grouped by deployment, site and
card, never listed one by one); `--explain` adds the groups in full, every reason, the changes
against the current plan and the solver's own figures; `render_html` draws a rig map.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from html import escape

from rich.console import Group, RenderableType
from rich.text import Text

from rigshift.fleet.model import Fleet
from rigshift.plan.types import Plan, PlannedReplica, Unplaced
from rigshift.report_style import FIT_CSS, VIEWPORT
from rigshift.tables import Col, fitted_table

_TOP_WHERE = 2  # (site, card) groups named per deployment in the summary
_TOP_REASONS = 3  # reasons named per unmet deployment in the summary
_MAX_LISTED = 200  # replicas listed one by one by --explain (the JSON has every one)


@dataclass
class PlacementGroup:
    """Replicas of one deployment on one card model at one site, with one shape."""

    deployment: str
    site: str
    card: str
    gpus_per_replica: int
    power_cap_w: float | None
    replicas: int = 0
    rigs: set[str] = field(default_factory=set)
    tokens_per_s: float = 0.0
    revenue_usd_per_h: float = 0.0
    power_w: float = 0.0


def placement_groups(plan: Plan) -> list[PlacementGroup]:
    """Replicas grouped by (deployment, site, card, GPUs per replica, cap), in demand order then size."""
    order = {d.deployment: i for i, d in enumerate(plan.deployments)}
    groups: dict[tuple[str, str, str, int, float | None], PlacementGroup] = {}
    for r in plan.replicas:
        card = "+".join(sorted({g.model for g in r.gpus}))
        cap = r.gpus[0].power_cap_w if r.gpus else None
        key = (r.deployment, r.site, card, len(r.gpus), cap)
        g = groups.get(key)
        if g is None:
            g = groups[key] = PlacementGroup(r.deployment, r.site, card, len(r.gpus), cap)
        g.replicas += 1
        g.rigs.update(gpu.rig for gpu in r.gpus)
        g.tokens_per_s += r.tokens_per_s
        g.revenue_usd_per_h += r.revenue_usd_per_h
        g.power_w += r.power_w
    return sorted(
        groups.values(), key=lambda g: (order.get(g.deployment, 1 << 30), -g.replicas, g.site, g.card)
    )


def gpus_serving(plan: Plan) -> int:
    return len({(g.rig, g.position) for r in plan.replicas for g in r.gpus})


def headline(plan: Plan) -> str:
    net = plan.revenue_usd_per_h - plan.power_cost_usd_per_h
    total = f" of {plan.gpus:,}" if plan.gpus else ""
    return (
        f"{plan.fleet}: {len(plan.replicas):,} replicas on {gpus_serving(plan):,}{total} GPUs; "
        f"revenue ${plan.revenue_usd_per_h:,.2f}/h, power ${plan.power_cost_usd_per_h:,.2f}/h, "
        f"net ${net:,.2f}/h"
    )


def quality(plan: Plan) -> str:
    """How good the plan is, in words: no solver vocabulary."""
    took = f"found in {plan.solve_seconds:.1f} s"
    if plan.gap is None:
        return f"Plan {took}; how close it is to the best possible is not known (--explain)"
    if plan.gap <= 1e-4:
        return f"Plan {took}: the best possible for this fleet and demand"
    return f"Plan {took}: within {plan.gap:.1%} of the best possible"


def unmet_text(u: Unplaced, top: int | None = _TOP_REASONS) -> list[str]:
    what = f"{u.replicas:,} replica(s) short"
    if u.tokens_per_s_short:
        what += f" ({u.tokens_per_s_short:,.0f} tok/s short)"
    reasons = sorted(u.reasons, key=lambda r: (-r.rejected, r.filter))
    shown = reasons if top is None else reasons[:top]
    lines = [f"{u.deployment}: {what}"]
    for r in shown:
        lines.append(f"  {r.rejected:,} GPU(s): {r.message}")
    if top is not None and len(reasons) > top:
        lines.append(f"  + {len(reasons) - top} more reason(s) (--explain)")
    return lines


def not_serving(plan: Plan) -> str:
    parts = [f"{n:,} {what}" for what, n in sorted(plan.leftover.items(), key=lambda kv: -kv[1]) if n]
    parts += [
        f"{n:,} {why}"
        for why, n in plan.excluded.items()
        if n and why != "reserved for mining" and not why.startswith("unassessed")
    ]
    return "GPUs not serving: " + (", ".join(parts) if parts else "none")


def unassessed_text(plan: Plan) -> str | None:
    if not plan.unassessed:
        return None
    names = ", ".join(f"{name} ×{n:,}" for name, n in list(plan.unassessed.items())[:4])
    more = f" and {len(plan.unassessed) - 4} more" if len(plan.unassessed) > 4 else ""
    total = sum(plan.unassessed.values())
    return (
        f"Unassessed: {total:,} GPU(s) of cards the catalog does not know ({names}{more}); left out of"
        " the plan. Check the names (`rigshift fleet show`) or add the cards to the catalog overlay."
    )


def _where(groups: list[PlacementGroup]) -> str:
    """'site-a: 120 × rtx-3060-12gb, 40 × rx-580-8gb; site-b: …' with the largest groups first."""
    by: Counter[tuple[str, str]] = Counter()
    for g in groups:
        by[(g.site, g.card)] += g.replicas
    top = by.most_common(_TOP_WHERE)
    sites: dict[str, list[str]] = {}
    for (site, card), n in top:
        sites.setdefault(site, []).append(f"{n:,} × {card}")
    text = "; ".join(f"{site}: {', '.join(cards)}" for site, cards in sites.items())
    if len(by) > _TOP_WHERE:
        text += f"; + {len(by) - _TOP_WHERE} more"
    return text or "-"


def render_summary(plan: Plan, width: int) -> RenderableType:
    groups = placement_groups(plan)
    by_dep: dict[str, list[PlacementGroup]] = defaultdict(list)
    for g in groups:
        by_dep[g.deployment].append(g)
    model_of = {r.deployment: f"{r.model} {r.quant}" for r in plan.replicas}
    rows = [
        (
            d.deployment,
            model_of.get(d.deployment, "-"),
            d.wanted,
            f"{d.replicas:,}",
            f"{d.tokens_per_s:,.0f}",
            f"{d.revenue_usd_per_h:,.2f}",
            f"{plan.min_tokens_per_s.get(d.deployment, 0):g}",
            _where(by_dep[d.deployment]),
        )
        for d in plan.deployments
    ]
    columns = (
        Col("deployment"),
        Col("model", drop=3),
        Col("wanted", drop=5),
        Col("replicas", "right"),
        Col("tok/s", "right", drop=4),
        Col("$/h", "right"),
        Col("min tok/s/stream", "right", drop=6),
        Col("where (site: replicas × card)", wrap=True, drop=1),
    )
    parts: list[RenderableType] = [
        Text(headline(plan), style="bold"),
        fitted_table(columns, rows, width, title="What runs where"),
    ]
    if plan.power_w_by_site:
        parts.append(
            Text("Power: " + ", ".join(f"{s} {w / 1000:,.1f} kW" for s, w in plan.power_w_by_site.items()))
        )
    if plan.unplaced:
        parts.append(Text("Unmet demand, and what would change it", style="bold yellow"))
        for u in plan.unplaced:
            parts.append(Text("\n".join(unmet_text(u))))
    else:
        parts.append(Text("All demand is met.", style="green"))
    parts.append(Text(not_serving(plan)))
    extra = unassessed_text(plan)
    if extra:
        parts.append(Text(extra, style="yellow"))
    for note in plan.notes:
        parts.append(Text(f"Note: {note}"))
    parts.append(Text(quality(plan), style="dim"))
    return Group(*parts)


def render_explain(plan: Plan, width: int) -> RenderableType:
    groups = placement_groups(plan)
    rows = [
        (
            g.deployment,
            g.site,
            g.card,
            str(g.gpus_per_replica),
            f"{g.replicas:,}",
            f"{len(g.rigs):,}",
            f"{g.tokens_per_s / max(g.replicas, 1):,.1f}",
            f"{g.power_cap_w:g} W" if g.power_cap_w else "default",
            f"{g.revenue_usd_per_h:,.3f}",
        )
        for g in groups
    ]
    columns = (
        Col("deployment"),
        Col("site"),
        Col("card"),
        Col("GPUs each", "right", drop=3),
        Col("replicas", "right"),
        Col("rigs", "right", drop=2),
        Col("tok/s each", "right", drop=4),
        Col("power cap", drop=5),
        Col("$/h", "right", drop=1),
    )
    parts: list[RenderableType] = [
        fitted_table(columns, rows, width, title="Placement by deployment, site and card")
    ]
    for u in plan.unplaced:
        parts.append(Text("Why " + "\n".join(unmet_text(u, top=None)), style="yellow"))
    if plan.excluded:
        parts.append(
            fitted_table(
                (Col("GPUs no deployment may use"), Col("GPUs", "right")),
                [(why, f"{n:,}") for why, n in plan.excluded.items()],
                width,
            )
        )
    if plan.moves:
        counts = Counter(m.action for m in plan.moves)
        parts.append(
            Text(
                "Changes against the current plan: "
                + ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))
            )
        )
        moves = sorted(
            (m for m in plan.moves if m.action != "keep"),
            key=lambda m: (m.deployment, m.action, m.target or m.source or ""),
        )
        parts.append(
            fitted_table(
                (Col("deployment"), Col("change"), Col("from", wrap=True), Col("to", wrap=True)),
                [(m.deployment, m.action, m.source or "", m.target or "") for m in moves[:_MAX_LISTED]],
                width,
                caption=f"+ {len(moves) - _MAX_LISTED} more (--json)" if len(moves) > _MAX_LISTED else None,
            )
        )
    if plan.replicas and len(plan.replicas) <= _MAX_LISTED:
        parts.append(
            _replica_table(sorted(plan.replicas, key=lambda r: (r.deployment, r.site, r.rig, r.id)), width)
        )
    elif plan.replicas:
        parts.append(Text(f"{len(plan.replicas):,} replicas: --json or --html lists every one"))
    bound = "none" if plan.bound is None else f"{plan.bound:.4f}"
    gap = "n/a" if plan.gap is None else f"{plan.gap:.2%}"
    parts.append(
        Text(
            f"Solver: {plan.solver} ({plan.solver_status}); objective {plan.objective:.4f} $/h less penalties,"
            f" upper bound {bound}, gap {gap}, {plan.solve_seconds:.2f} s",
            style="dim",
        )
    )
    return Group(*parts)


def _replica_table(replicas: list[PlannedReplica], width: int) -> RenderableType:
    rows = [
        (
            r.deployment,
            r.rig,
            ",".join(str(g.position) for g in r.gpus),
            r.runtime,
            f"{r.tokens_per_s:.1f}",
            f"{r.revenue_usd_per_h:.4f}",
            f"{r.power_w:.0f}",
            " ".join(f"{x:g}" for x in r.tensor_split) if r.tensor_split else "",
        )
        for r in replicas
    ]
    columns = (
        Col("deployment"),
        Col("rig"),
        Col("GPUs"),
        Col("runtime", drop=3),
        Col("tok/s", "right", drop=2),
        Col("$/h", "right", drop=1),
        Col("W", "right", drop=4),
        Col("tensor split", drop=5),
    )
    return fitted_table(columns, rows, width, title="Replicas")


# -- HTML ---------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2430;background:#fff}
h1{margin:0 0 4px}h2{margin:28px 0 8px;font-size:1.15em}.headline{font-size:1.2em;font-weight:600}
table{border-collapse:collapse;font-size:.9em}th,td{padding:4px 8px;border-bottom:1px solid #eceff4;text-align:left}
td.n,th.n{text-align:right}.warn{color:#b5522b}.muted{color:#777}
svg text{font-family:inherit;font-size:10px;fill:#1d2430}.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
"""
_PALETTE = ("#2a9d8f", "#457b9d", "#e9c46a", "#8e7dbe", "#e76f51", "#43aa8b", "#f4a261", "#577590")
_IDLE, _EXCLUDED = "#dfe4ea", "#8d99ae"
_CELL, _GAP, _RIG_W = 9, 1, 120  # GPU square, gap, the narrowest column a rig gets in the map
MAX_MAP_RIGS = 3000  # beyond this the map groups nothing and helps nobody; the JSON has them all


def rig_map_svg(plan: Plan, fleet: Fleet) -> str:
    """Every rig as a row of GPU squares, coloured by the deployment serving it; grey: idle."""
    deployments = [d.deployment for d in plan.deployments]
    color = {d: _PALETTE[i % len(_PALETTE)] for i, d in enumerate(deployments)}
    serving: dict[tuple[str, int], str] = {}
    for r in plan.replicas:
        for g in r.gpus:
            serving[(g.rig, g.position)] = r.deployment
    rigs = fleet.rigs[:MAX_MAP_RIGS]
    widest = max((len(r.gpus) for r in rigs), default=1)
    rig_w = max(_RIG_W, widest * (_CELL + _GAP) + 8)  # every GPU of the largest rig gets a square
    per_row = max(1, 960 // rig_w)
    rows = (len(rigs) + per_row - 1) // per_row
    row_h = 14 + _CELL + 6
    width, height = per_row * rig_w, max(rows * row_h, row_h)
    out = [f"<svg id='rig-map' width='{width}' height='{height}' viewBox='0 0 {width} {height}' role='img'>"]
    for i, rig in enumerate(rigs):
        x0, y0 = (i % per_row) * rig_w, (i // per_row) * row_h
        out.append(f"<text x='{x0}' y='{y0 + 10}'>{escape(rig.name[:18])}</text>")
        for p, gpu in enumerate(rig.gpus):
            dep = serving.get((rig.name, p))
            fill = color.get(dep, _IDLE) if dep else (_EXCLUDED if gpu.reserved_for_mining else _IDLE)
            what = dep or ("reserved for mining" if gpu.reserved_for_mining else "not serving")
            out.append(
                f"<rect x='{x0 + p * (_CELL + _GAP)}' y='{y0 + 13}' width='{_CELL}' height='{_CELL}'"
                f" fill='{fill}'><title>{escape(rig.name)} GPU {p} ({escape(gpu.model)}): {escape(what)}</title></rect>"
            )
    out.append("</svg>")
    legend = "".join(f"<span><i style='background:{c}'></i>{escape(d)}</span>" for d, c in color.items())
    legend += f"<span><i style='background:{_IDLE}'></i>not serving</span>"
    legend += f"<span><i style='background:{_EXCLUDED}'></i>reserved for mining</span>"
    more = (
        f"<p class='muted'>First {MAX_MAP_RIGS:,} of {len(fleet.rigs):,} rigs shown.</p>"
        if len(fleet.rigs) > MAX_MAP_RIGS
        else ""
    )
    return f"<div class='legend'>{legend}</div>{''.join(out)}{more}"


def _html_table(head: list[str], rows: list[list[str]], numeric_from: int = 99) -> str:
    th = "".join(
        f"<th class='{'n' if i >= numeric_from else ''}'>{escape(h)}</th>" for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='{'n' if i >= numeric_from else ''}'>{escape(c)}</td>" for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def render_html(plan: Plan, fleet: Fleet) -> str:
    groups = placement_groups(plan)
    deployments = _html_table(
        ["deployment", "wanted", "replicas", "tok/s", "$/h", "min tok/s per stream"],
        [
            [d.deployment, d.wanted, f"{d.replicas:,}", f"{d.tokens_per_s:,.0f}", f"{d.revenue_usd_per_h:,.2f}",
             f"{plan.min_tokens_per_s.get(d.deployment, 0):g}"]
            for d in plan.deployments
        ],
        numeric_from=2,
    )  # fmt: skip
    placement = _html_table(
        ["deployment", "site", "card", "GPUs each", "replicas", "rigs", "$/h"],
        [
            [g.deployment, g.site, g.card, str(g.gpus_per_replica), f"{g.replicas:,}", f"{len(g.rigs):,}",
             f"{g.revenue_usd_per_h:,.3f}"]
            for g in groups
        ],
        numeric_from=3,
    )  # fmt: skip
    unmet = (
        "".join(
            "<p class='warn'>" + "<br>".join(escape(line) for line in unmet_text(u, top=None)) + "</p>"
            for u in plan.unplaced
        )
        or "<p>All demand is met.</p>"
    )
    extra = unassessed_text(plan)
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>{VIEWPORT}",
        f"<title>rigshift plan: {escape(plan.fleet)}</title><style>{_CSS}{FIT_CSS}</style></head><body>",
        f"<h1>Plan for {escape(plan.fleet)}</h1>",
        f"<p class='headline'>{escape(headline(plan))}</p>",
        f"<p>{escape(not_serving(plan))}</p>",
        f"<p class='warn'>{escape(extra)}</p>" if extra else "",
        "<h2>What runs where</h2>",
        deployments,
        "<h2>Unmet demand, and what would change it</h2>",
        unmet,
        "<h2>Rig map</h2>",
        rig_map_svg(plan, fleet),
        "<h2>Placement by deployment, site and card</h2>",
        placement,
        "".join(f"<p class='muted'>Note: {escape(n)}</p>" for n in plan.notes),
        f"<p class='muted'>{escape(quality(plan))}</p>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


__all__ = [
    "PlacementGroup",
    "headline",
    "placement_groups",
    "quality",
    "render_explain",
    "render_html",
    "render_summary",
    "rig_map_svg",
]
