"""`rigshift energy simulate --html`: one self-contained page, plots drawn as inline SVG.

Three plots share the time axis: the price, the site's draw under the policy and the two
baselines, and what the cards did (interactive, batch, mining, off). A year of 15-minute
intervals is reduced to at most `POINTS` buckets per plot (mean per bucket; the price plot
also shows each bucket's maximum, so a spike is never averaged away).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import numpy as np

from rigshift.energy.simulate import STRATEGIES, Simulation
from rigshift.report_style import FIT_CSS, VIEWPORT

POINTS = 1200
W, H, PAD = 1100, 220, 50
COLOURS = {
    "policy": "#1f77b4",
    "always_on": "#d62728",
    "mining_only": "#7f7f7f",
    "interactive": "#2ca02c",
    "batch": "#1f77b4",
    "mining": "#ff7f0e",
    "off": "#cccccc",
    "price": "#444444",
    "max": "#d62728",
}


def _buckets(values: np.ndarray, n: int, how: str = "mean") -> np.ndarray:
    if len(values) <= n:
        return values.astype(float)
    edges = np.linspace(0, len(values), n + 1).astype(int)
    reduce = np.maximum.reduceat if how == "max" else np.add.reduceat
    out = reduce(values.astype(float), edges[:-1])
    if how == "mean":
        out = out / np.diff(edges)
    return out


def _path(ys: np.ndarray, lo: float, hi: float) -> str:
    if not len(ys):
        return ""
    span = hi - lo or 1.0
    xs = PAD + np.arange(len(ys)) * (W - 2 * PAD) / max(1, len(ys) - 1)
    py = H - PAD + (ys - lo) / span * -(H - 2 * PAD)
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, py, strict=True))


def _axes(lo: float, hi: float, unit: str, first: float, last: float) -> str:
    parts = [
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#999"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="#999"/>',
        f'<text x="{PAD - 6}" y="{H - PAD}" text-anchor="end" font-size="11">{lo:,.0f}</text>',
        f'<text x="{PAD - 6}" y="{PAD + 4}" text-anchor="end" font-size="11">{hi:,.0f}</text>',
        f'<text x="{PAD}" y="{PAD - 10}" font-size="11">{html.escape(unit)}</text>',
        f'<text x="{PAD}" y="{H - PAD + 16}" font-size="11">{_day(first)}</text>',
        f'<text x="{W - PAD}" y="{H - PAD + 16}" text-anchor="end" font-size="11">{_day(last)}</text>',
    ]
    return "".join(parts)


def _day(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _lines(series: dict[str, np.ndarray], unit: str, first: float, last: float) -> str:
    lo = min(0.0, *(float(v.min()) for v in series.values() if len(v)))
    hi = max(float(v.max()) for v in series.values() if len(v))
    paths = "".join(
        f'<path d="{_path(v, lo, hi)}" fill="none" stroke="{COLOURS.get(k, "#000")}" stroke-width="1.2"/>'
        for k, v in series.items()
    )
    legend = " ".join(f'<tspan fill="{COLOURS.get(k, "#000")}">■ {html.escape(k)}</tspan>' for k in series)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img">'
        f"{_axes(lo, hi, unit, first, last)}{paths}"
        f'<text x="{W - PAD}" y="{PAD - 10}" text-anchor="end" font-size="11">{legend}</text></svg>'
    )


def _stacked(layers: dict[str, np.ndarray], first: float, last: float) -> str:
    total = np.sum(np.vstack(list(layers.values())), axis=0)
    hi = float(np.max(total)) if len(total) else 1.0
    base = np.zeros_like(total)
    polys = []
    n = len(total)
    xs = PAD + np.arange(n) * (W - 2 * PAD) / max(1, n - 1)
    for name, values in layers.items():
        top = base + values
        y_top = H - PAD - top / (hi or 1) * (H - 2 * PAD)
        y_base = H - PAD - base / (hi or 1) * (H - 2 * PAD)
        pts = [f"{x:.1f},{y:.1f}" for x, y in zip(xs, y_top, strict=True)]
        pts += [f"{x:.1f},{y:.1f}" for x, y in zip(xs[::-1], y_base[::-1], strict=True)]
        polys.append(f'<polygon points="{" ".join(pts)}" fill="{COLOURS[name]}" opacity="0.85"/>')
        base = top
    legend = " ".join(f'<tspan fill="{COLOURS[k]}">■ {k}</tspan>' for k in layers)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img">'
        f"{_axes(0, hi, 'cards (policy)', first, last)}{''.join(polys)}"
        f'<text x="{W - PAD}" y="{PAD - 10}" text-anchor="end" font-size="11">{legend}</text></svg>'
    )


def render_html(sim: Simulation) -> str:
    data = sim.to_json(with_intervals=False)
    rows = "".join(
        "<tr><td>{}</td>{}</tr>".format(
            name,
            "".join(
                f"<td>{data[name][k]:,.2f}</td>"
                if isinstance(data[name][k], float)
                else f"<td>{data[name][k]}</td>"
                for k in COLUMNS
            ),
        )
        for name in STRATEGIES
    )
    sections = []
    for site, run in sim.runs["policy"].items():
        series = sim.prices[site]
        first, last = float(series.start), float(series.end)
        price = series.usd_per_kwh * 1000
        sections.append(f"<h2>{html.escape(site)}</h2>")
        sections.append(
            _lines(
                {"price": _buckets(price, POINTS), "max": _buckets(price, POINTS, "max")},
                "$/MWh (bucket mean, and max in red)",
                first,
                last,
            )
        )
        sections.append(
            _lines(
                {name: _buckets(sim.runs[name][site].power_kw, POINTS) for name in STRATEGIES},
                "site draw, kW (PUE included)",
                first,
                last,
            )
        )
        sections.append(
            _stacked(
                {
                    "interactive": _buckets(run.replicas, POINTS),
                    "batch": _buckets(run.batch_cards, POINTS),
                    "mining": _buckets(run.mining_cards, POINTS),
                    "off": _buckets(run.off_cards, POINTS),
                },
                first,
                last,
            )
        )
        if run.events:
            sections.append(
                "<h3>Demand-response events</h3><pre>" + html.escape(_events_text(run.events)) + "</pre>"
            )
    inputs = html.escape(_inputs_text(data["inputs"]))
    header = "".join("<th>" + c.replace("_", " ") + "</th>" for c in COLUMNS)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">{VIEWPORT}<title>rigshift energy simulate</title>
<style>{FIT_CSS}body{{font-family:system-ui,sans-serif;margin:2em;max-width:1150px}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
td:first-child{{text-align:left}}pre{{background:#f6f6f6;padding:8px;white-space:pre-wrap}}</style></head>
<body><h1>Energy policy against always-on and mining-only</h1>
<p>Policy net minus always-on: <b>${data["policy_vs_always_on_usd"]:,.2f}</b>
({data["policy_vs_always_on_pct"]}%). Simulated in {data["seconds"]} s.</p>
<table><tr><th>strategy</th>{header}</tr>{rows}</table>
{"".join(sections)}
<h2>Inputs</h2><pre>{inputs}</pre>
</body></html>
"""


COLUMNS = (
    "net_usd",
    "energy_cost_usd",
    "token_revenue_usd",
    "mining_revenue_usd",
    "batch_deadlines_met",
    "batch_deadlines_total",
    "slo_minutes_lost",
    "curtailed_hours",
)


def _events_text(events: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{e['site']} {e['start']} → {e['end']}: asked {e['shed_kw_asked'] or e['target_kw']} kW, "
        f"shed up to {e['max_kw_shed']} kW, {e['kwh_avoided']} kWh avoided, "
        f"{e['intervals_over_target']} of {e['intervals']} intervals over target, paused {e['paused']}"
        for e in events
    )


def _inputs_text(inputs: dict[str, Any]) -> str:
    import json

    return json.dumps(inputs, indent=1, default=str)
