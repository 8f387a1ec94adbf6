"""The assessment as one self-contained HTML page: inline CSS and SVG charts, nothing fetched.

Charts are drawn here as plain SVG (no JS library, no CDN) so the page opens offline and prints:
AI-ready share by tier, a VRAM histogram, GPUs by limiting reason, and a per-rig table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from html import escape

from rigshift.assess.types import FleetAssessment
from rigshift.report_style import FIT_CSS, VIEWPORT

MAX_RIG_ROWS = 500  # a page with 12,000 table rows helps nobody; the JSON has them all

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2430;background:#fff}
h1{margin:0 0 4px}h2{margin:28px 0 8px;font-size:1.15em}
.headline{font-size:1.5em;font-weight:600;color:#0b6e4f}.criteria{color:#555;max-width:70em}
.grid{display:flex;flex-wrap:wrap;gap:24px}.card{border:1px solid #dde2ea;border-radius:8px;padding:12px}
table{border-collapse:collapse;font-size:.9em}th,td{padding:4px 8px;border-bottom:1px solid #eceff4;text-align:left}
td.n,th.n{text-align:right}caption{caption-side:bottom;color:#777;font-size:.85em;padding-top:4px}
svg text{font-family:inherit;font-size:12px;fill:#1d2430}.muted{color:#777}
"""

_GREEN, _BLUE, _GREY, _RED = "#2a9d8f", "#457b9d", "#b8c1cc", "#e76f51"


def render_html(a: FleetAssessment) -> str:
    s = a.summary
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>{VIEWPORT}",
        f"<title>rigshift assessment: {escape(a.fleet)}</title><style>{_CSS}{FIT_CSS}</style></head><body>",
        f"<h1>AI readiness of {escape(a.fleet)}</h1>",
        f"<p class='headline'>{escape(s.headline)}</p>",
        f"<p class='criteria'>{escape(s.criteria)}</p>",
        f"<p>{s.gpus:,} GPUs in {s.rigs:,} rigs, {s.vram_gib:,.0f} GiB VRAM.</p>",
        "<div class='grid'>",
        _card("AI-ready share by tier", _tier_chart(a)),
        _card("VRAM histogram", _vram_histogram(a)),
        _card("GPUs by limiting reason", _reason_chart(a)),
        "</div>",
        _unlock_table(a),
        _card_model_table(a),
        _recommendation_table(a),
        _rig_table(a),
        "</body></html>",
    ]
    return "\n".join(parts)


def _card(title: str, body: str) -> str:
    return f"<div class='card'><h2>{escape(title)}</h2>{body}</div>"


def _vbar_chart(
    chart_id: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float], str]],
    fmt: str = "{:.0f}", vmax: float | None = None,
) -> str:  # fmt: skip
    """Grouped vertical bars with value labels and a legend."""
    width, height, left, bottom, top = 520, 270, 40, 40, 36
    groups = max(len(labels), 1)
    plot_w, plot_h = width - left - 10, height - bottom - top
    vmax = vmax or max((v for _, values, _ in series for v in values), default=1) or 1
    slot = plot_w / groups
    bar_w = max(slot * 0.8 / max(len(series), 1), 2)
    out = [f"<svg id='{chart_id}' width='{width}' height='{height}'"
           f" viewBox='0 0 {width} {height}' role='img'>"]  # fmt: skip
    out.append(f"<line x1='{left}' y1='{top + plot_h}' x2='{width - 10}' y2='{top + plot_h}' stroke='#999'/>")
    for i, label in enumerate(labels):
        x0 = left + i * slot + slot * 0.1
        for j, (_, values, color) in enumerate(series):
            v = values[i]
            h = plot_h * (v / vmax)
            x = x0 + j * bar_w
            y = top + plot_h - h
            out.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{bar_w - 1:.1f}' height='{h:.1f}' fill='{color}'>"
                       f"<title>{escape(label)}: {fmt.format(v)}</title></rect>")  # fmt: skip
            if bar_w >= 14:
                out.append(
                    f"<text x='{x + bar_w / 2:.1f}' y='{y - 3:.1f}' text-anchor='middle'>{fmt.format(v)}</text>"
                )
        out.append(f"<text x='{left + i * slot + slot / 2:.1f}' y='{top + plot_h + 16}' text-anchor='middle'>"
                   f"{escape(label)}</text>")  # fmt: skip
    for j, (name, _, color) in enumerate(series):
        out.append(f"<rect x='{left + j * 130}' y='4' width='10' height='10' fill='{color}'/>"
                   f"<text x='{left + j * 130 + 14}' y='13'>{escape(name)}</text>")  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def _tier_chart(a: FleetAssessment) -> str:
    tiers = a.summary.tiers
    return _vbar_chart(
        "chart-tiers", [t.tier.value for t in tiers],
        [("share of GPUs", [t.gpu_share * 100 for t in tiers], _GREEN),
         ("share of VRAM", [t.vram_share * 100 for t in tiers], _BLUE)],
        fmt="{:.0f}%", vmax=100,
    )  # fmt: skip


def _vram_histogram(a: FleetAssessment) -> str:
    ready: Counter[float] = Counter()
    other: Counter[float] = Counter()
    for p in a.profiles:
        (ready if p.headline_ready else other)[round(p.vram_gib)] += p.gpus
    sizes = sorted(set(ready) | set(other))
    return _vbar_chart(
        "chart-vram", [f"{v:g} GiB" for v in sizes],
        [("AI-ready", [ready[v] for v in sizes], _GREEN), ("not ready", [other[v] for v in sizes], _GREY)],
    )  # fmt: skip


def _reason_chart(a: FleetAssessment) -> str:
    """Per reason: GPUs it stops at their next tier (red part: not AI-ready), and GPUs where it
    is a caveat only (grey), so both what blocks and what weighs show."""
    rows = [(r.text, r.gpus_limited, r.gpus_not_ready, r.gpus_caveat) for r in a.summary.by_reason]
    top = sum(p.gpus for p in a.profiles if p.primary_reason is None)
    if top:
        rows.append(("nothing: serves the largest class", top, 0, 0))
    width, row_h, label_w = 720, 34, 330
    height = max(len(rows), 1) * row_h + 30
    vmax = max((max(n, c) for _, n, _, c in rows), default=1) or 1
    span = width - label_w - 60
    out = [
        f"<svg id='chart-reasons' width='{width}' height='{height}' viewBox='0 0 {width} {height}' role='img'>"
    ]
    legend = ((_RED, "not AI-ready"), (_BLUE, "limits the next tier"), (_GREY, "caveat only"))
    for i, (color, text) in enumerate(legend):
        x = label_w + i * 140
        out.append(
            f"<rect x='{x}' y='4' width='10' height='10' fill='{color}'/><text x='{x + 14}' y='13'>{text}</text>"
        )
    for i, (text, limited, not_ready, caveat) in enumerate(rows):
        y = 24 + i * row_h
        blue, red, grey = (span * n / vmax for n in (limited, not_ready, caveat))
        out.append(
            f"<text x='{label_w - 6}' y='{y + 17}' text-anchor='end'>{escape(text if len(text) <= 50 else text[:49] + '…')}</text>"
        )
        out.append(f"<rect x='{label_w}' y='{y + 2}' width='{blue:.1f}' height='14' fill='{_BLUE}'>"
                   f"<title>{escape(text)}: limits {limited:,} GPUs</title></rect>")  # fmt: skip
        out.append(f"<rect x='{label_w}' y='{y + 2}' width='{red:.1f}' height='14' fill='{_RED}'>"
                   f"<title>{escape(text)}: {not_ready:,} GPUs not AI-ready</title></rect>")  # fmt: skip
        out.append(f"<rect x='{label_w}' y='{y + 17}' width='{grey:.1f}' height='10' fill='{_GREY}'>"
                   f"<title>{escape(text)}: caveat on {caveat:,} GPUs</title></rect>")  # fmt: skip
        if limited:
            out.append(f"<text x='{label_w + blue + 4:.1f}' y='{y + 14}'>{limited:,}</text>")
        if caveat:
            out.append(f"<text x='{label_w + grey + 4:.1f}' y='{y + 27}' class='muted'>{caveat:,}</text>")
    out.append("</svg>")
    return "".join(out)


def _table(table_id: str, head: Sequence[str], rows: Sequence[Sequence[object]], caption: str = "") -> str:
    numeric = {i for i, h in enumerate(head) if h in ("GPUs", "AI-ready", "rigs", "VRAM GiB", "count")}
    th = "".join(f"<th class='n'>{escape(h)}</th>" if i in numeric else f"<th>{escape(h)}</th>"
                 for i, h in enumerate(head))  # fmt: skip
    body = []
    for row in rows:
        cells = "".join(
            f"<td class='n'>{escape(str(c))}</td>" if i in numeric else f"<td>{escape(str(c))}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table id='{table_id}'>{cap}<thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _unlock_table(a: FleetAssessment) -> str:
    rows = [(u.text, u.rigs, u.effect) for u in a.summary.unlocks]
    if not rows:
        return "<h2>Actions that unlock capacity</h2><p class='muted'>None: no fix changes a verdict.</p>"
    return "<h2>Actions that unlock capacity (re-assessed with the fix)</h2>" + _table(
        "table-unlocks", ("action", "rigs", "effect"), rows
    )


def _card_model_table(a: FleetAssessment) -> str:
    rows = [
        (
            c.gpu_name,
            c.gpus,
            c.ready_gpus,
            f"{c.vram_gib:,.0f}",
            " ".join(f"{k}: {v}" for k, v in sorted(c.tiers.items())),
        )
        for c in a.summary.by_card_model
    ]
    return "<h2>By card model</h2>" + _table(
        "table-cards", ("card", "GPUs", "AI-ready", "VRAM GiB", "tiers"), rows
    )


def _recommendation_table(a: FleetAssessment) -> str:
    rows = [(k.replace("_", " "), v) for k, v in a.summary.by_recommendation.items()]
    return "<h2>Recommended use</h2>" + _table("table-uses", ("use", "GPUs"), rows)


def _rig_table(a: FleetAssessment) -> str:
    rows = []
    for rig in a.rigs[:MAX_RIG_ROWS]:
        replicas = next((o.text for o in rig.options if o.kind == "replicas"), "-")
        split = "; ".join(o.text for o in rig.options if o.kind == "split") or "-"
        limits = ", ".join(lim.reason.value for lim in rig.limits) or "-"
        rows.append((rig.name, rig.site, rig.gpus, f"{rig.vram_gib:g}", rig.ready_gpus, rig.best_tier, replicas,
                     split, limits))  # fmt: skip
    caption = (
        f"first {MAX_RIG_ROWS:,} of {len(a.rigs):,} rigs; --json has all"
        if len(a.rigs) > MAX_RIG_ROWS
        else ""
    )
    head = ("rig", "site", "GPUs", "VRAM GiB", "AI-ready", "best tier", "replicas", "split", "host limits")
    return "<h2>Per rig</h2>" + _table("table-rigs", head, rows, caption)
