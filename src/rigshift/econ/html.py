"""A self-contained HTML report: tables and an inline SVG chart, no scripts, no CDN, works offline."""

from __future__ import annotations

from html import escape

from rigshift.econ.analysis import Economics
from rigshift.econ.render import CARD_COLUMNS, as_of_text, break_even_text, key_figures, money, months, price
from rigshift.econ.sensitivity import Sensitivity
from rigshift.report_style import FIT_CSS, VIEWPORT

COLOURS = ("#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#7b4b94", "#00798c")
STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;font-size:14px}
th{background:#f3f3f3}td.n{text-align:right;white-space:nowrap}.small{color:#666;font-size:12px}
"""


def _table(head: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    out = ["<table><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            cls = ' class="n"' if i >= numeric_from else ""
            out.append(f"<td{cls}>{escape(cell)}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def sensitivity_svg(s: Sensitivity, width: int = 720, height: int = 360) -> str:
    """Monthly net after the plan against the power price, one line per token-price factor,
    and the mining-only baseline dashed."""
    series: list[tuple[str, list[tuple[float, float]], str, bool]] = []
    for i, tf in enumerate(s.token_factors):
        pts = [(c.usd_per_kwh, c.monthly_net_usd) for c in s.cells if c.token_factor == tf]
        series.append((f"plan, tokens ×{tf:g}", sorted(pts), COLOURS[i % len(COLOURS)], False))
    base = sorted({(c.usd_per_kwh, c.monthly_net_before_usd) for c in s.cells})
    series.append(("mining only (before)", base, "#555", True))
    xs = [x for _, pts, _, _ in series for x, _ in pts]
    ys = [y for _, pts, _, _ in series for _, y in pts] + [0.0]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1
    left, right, top, bottom = 80, 200, 20, 50
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + (y1 - y) / (y1 - y0) * ph

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="monthly net against power price">',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>',
        f'<line x1="{left}" x2="{left + pw}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" stroke="#999"/>',
    ]
    for k in range(5):
        yv = y0 + (y1 - y0) * k / 4
        xv = x0 + (x1 - x0) * k / 4
        parts.append(
            f'<text x="{left - 6}" y="{sy(yv) + 4:.1f}" font-size="11" text-anchor="end">'
            f"{escape(money(yv, False))}</text>"
        )
        parts.append(
            f'<text x="{sx(xv):.1f}" y="{top + ph + 16}" font-size="11" text-anchor="middle">{xv:.3f}</text>'
        )
    parts.append(
        f'<text x="{left + pw / 2}" y="{height - 8}" font-size="12" text-anchor="middle">'
        "power price, $/kWh</text>"
    )
    parts.append(
        f'<text x="14" y="{top + ph / 2}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + ph / 2})">monthly net, $</text>'
    )
    for i, (label, pts, colour, dashed) in enumerate(series):
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{path}"/>')
        for x, y in pts:
            parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}"/>')
        ly = top + 14 + i * 18
        parts.append(
            f'<line x1="{left + pw + 12}" x2="{left + pw + 36}" y1="{ly - 4}" y2="{ly - 4}" '
            f'stroke="{colour}" stroke-width="2"{dash}/>'
        )
        parts.append(f'<text x="{left + pw + 42}" y="{ly}" font-size="12">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(economics: Economics) -> str:
    e = economics
    p = e.plan
    cards = [
        [
            f"{c.card.gpu_name} @ {c.card.site}",
            str(c.card.count),
            price(c.card.usd_per_kwh),
            money(c.mining.net_usd_day) if c.mining.available else "n/a",
            money(c.rental.net_usd_day) if c.rental.available else "n/a",
            (
                f"{money(c.inference.net_usd_day)} ({c.inference.model_class})"
                if c.inference.available
                else "n/a"
            ),
            c.best_use,
            f"{price(c.mining.break_even_usd_kwh)} / {price(c.inference.break_even_usd_kwh)}",
            break_even_text(c.break_even_utilisation, e.inputs.ai.max_utilisation),
        ]
        for c in e.cards
    ]
    details = [
        [
            f"{c.card.gpu_name} @ {c.card.site}",
            r.use + (f" {r.model_class}" if r.model_class else ""),
            r.detail,
        ]
        for c in e.cards
        for r in (c.mining, c.rental, *c.inference_options)
    ]
    steps = [
        [s.description, money(s.capex_usd, False), money(s.monthly_gain_usd, False), months(s.payback_months)]
        for s in p.steps
    ]
    sens_rows = []
    if e.sensitivity is not None:
        s = e.sensitivity
        for pf in s.power_factors:
            row = [s.cell(pf, tf) for tf in s.token_factors]
            sens_rows.append(
                [
                    price(row[0].usd_per_kwh),
                    money(row[0].monthly_net_before_usd, False),
                    *(f"{money(c.monthly_net_usd, False)}: {c.plan_summary}" for c in row),
                ]
            )
    provenance = "".join(
        f"<li>{'<b>DEFAULT</b> ' if pr.is_default else ''}{escape(pr.what)} — {escape(as_of_text(pr.as_of))} — "
        f"<span class='small'>{escape(pr.source)}</span></li>"
        for pr in e.inputs.provenance
    )
    ai = e.inputs.ai
    service = [
        [
            s.model_class,
            f"{s.requests_per_day:,.0f}",
            f"{s.tokens_per_day:,.0f}",
            f"{s.served_requests_per_day:,.0f}",
            f"{s.served_tokens_per_day:,.0f}",
            str(s.gpus),
            "—" if s.utilisation is None else f"{s.utilisation:.0%}",
        ]
        for s in p.service
    ]
    unassessed = [[u.name, u.site, str(u.count), u.hint] for u in e.unassessed]
    unlocks = [
        [
            u.text,
            "—" if u.cost_usd is None else f"{money(u.cost_usd, False)} ({u.cost_detail})",
            "—" if u.monthly_gain_usd is None else money(u.monthly_gain_usd, False),
            "—" if u.gain_per_usd is None else f"{u.gain_per_usd:.3f}",
            u.effect,
        ]
        for u in e.unlocks
    ]
    body = [
        f"<h1>rigshift economics: {escape(e.fleet)}</h1>",
        f"<p><b>Demand assumed</b>: {e.tokens_per_day:,.0f} tokens/day, {e.requests_per_day:,.0f} requests/day "
        f"of {ai.input_tokens_per_request:,} + {ai.output_tokens_per_request:,} tokens; revenue never exceeds "
        f"what it buys. <span class='small'>{escape(ai.demand.source)}</span></p>",
        _table(
            ["class", "demand req/day", "tokens/day", "served req/day", "served tokens/day", "GPUs", "busy"],
            service,
        ),
        "<h2>Per card class: net $/day per card</h2>",
        _table(
            list(CARD_COLUMNS),
            cards,
        ),
        "<h2>Conversion plan</h2>",
        _table(["step", "capex", "monthly gain", "payback"], steps),
        f"<p>Monthly revenue {money(p.monthly_revenue_before_usd, False)} before → "
        f"{money(p.monthly_revenue_after_usd, False)} after; monthly net {money(p.monthly_net_before_usd, False)} → "
        f"{money(p.monthly_net_after_usd, False)}. Spend {money(p.spend_usd, False)}, sale proceeds "
        f"{money(p.sale_proceeds_usd, False)}, net capex {money(p.net_capex_usd, False)} "
        f"(budget {money(p.capex_budget_usd, False)}).</p>",
    ]
    if e.sensitivity is not None:
        body += [
            "<h2>Sensitivity to power and token prices</h2>",
            sensitivity_svg(e.sensitivity),
            _table(
                ["power $/kWh", "mining only", *(f"tokens ×{tf:g}" for tf in e.sensitivity.token_factors)],
                sens_rows,
            ),
        ]
    if e.sensitivity is not None and e.sensitivity.demand_cells:
        body += [
            "<h2>Sensitivity to demand (and so utilisation)</h2>",
            _table(
                ["demand", "req/day", "served/day", "busy", "monthly net", "plan"],
                [
                    [
                        f"×{c.demand_factor:g}",
                        f"{c.requests_per_day:,.0f}",
                        f"{c.served_requests_per_day:,.0f}",
                        "—" if c.utilisation is None else f"{c.utilisation:.0%}",
                        money(c.monthly_net_usd, False),
                        c.plan_summary,
                    ]
                    for c in e.sensitivity.demand_cells
                ],
            ),
        ]
    body += [
        "<h2>Per use, per card</h2>",
        _table(["class", "use", "detail"], details, numeric_from=99),
        "<h2>Figures that drive the verdict</h2>",
        _table(["figure", "value", "from"], [list(r) for r in key_figures(e)], numeric_from=99),
        "<h2>Inputs used</h2>",
        f"<ul>{provenance}</ul>",
    ]
    if unlocks:
        body += [
            "<h2>Unlock actions, priced, ranked by monthly gain per $</h2>",
            _table(["action", "cost", "monthly gain", "gain/$", "effect"], unlocks, numeric_from=99),
        ]
    if unassessed:
        body += [
            "<h2>Unassessed GPUs (not in the catalog; left out)</h2>",
            _table(["GPU", "site", "count", "hint"], unassessed, numeric_from=2),
        ]
    if e.notes:
        body.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in e.notes) + "</ul>")
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{VIEWPORT}"
        f"<title>rigshift economics: {escape(e.fleet)}</title><style>{STYLE}{FIT_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
