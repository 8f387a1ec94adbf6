"""`rigshift energy simulate --html`: one self-contained page (no script, nothing fetched).

The page reads the simulation's JSON (`Simulation.to_json()`), nothing else, and shows:

- a verdict: the policy's net against the best baseline, said plainly when the policy loses;
- the strategies side by side (metrics as rows, so it fits a phone), and the hours at or above
  $1,000/MWh when the JSON has them;
- per site, on one dated time axis: the price (bucket mean and maximum, on a signed log scale so a
  $5,000 spike and a $20 night both read), the site's draw under each strategy, and the policy's
  decisions as a timeline per role (shade = share of the cards in that role); hours priced at or
  above $100 and $1,000/MWh are shaded on every plot;
- demand-response events and the inputs, as sentences and a list, not a JSON dump.

Plots are inline SVG stretched to the page's width (`preserveAspectRatio="none"`, strokes that do
not scale), with their labels in HTML, so text keeps its size at 390 px and the page never scrolls
sideways. A long series is reduced to at most `POINTS` buckets (mean per bucket; the price plot
also draws each bucket's maximum and the bands use it, so a spike is never averaged away).
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

POINTS = 600
VIEW_W, VIEW_H = 1000.0, 100.0  # the plots' SVG user space, stretched to the element
BANDS = ((100.0, "band-100", "≥ $100/MWh"), (1000.0, "band-1000", "≥ $1,000/MWh"))
STRATEGY_ORDER = ("policy", "mining_curtailed", "ai_curtailed", "always_on", "mining_only")
STRATEGY_COLOURS = {
    "policy": "#1d4ed8",
    "always_on": "#dc2626",
    "mining_only": "#6b7280",
    "mining_curtailed": "#d97706",
    "ai_curtailed": "#059669",
}
ROLES = (
    ("replicas", "interactive", "#059669"),
    ("batch_cards", "batch", "#1d4ed8"),
    ("mining_cards", "mining", "#d97706"),
    ("off_cards", "off", "#6b7280"),
)
# (JSON key, row label, kind): the comparison table shows the rows the JSON has.
METRICS = (
    ("net_usd", "net", "usd"),
    ("token_revenue_usd", "token revenue", "usd"),
    ("mining_revenue_usd", "mining revenue", "usd"),
    ("power_credit_usd", "power credit", "usd"),
    ("energy_cost_usd", "energy cost", "usd"),
    ("fixed_cost_usd", "fixed cost", "usd"),
    ("batch_deadlines_met", "batch deadlines met", "deadlines"),
    ("slo_minutes_lost", "SLO minutes lost", "int"),
    ("hours_off", "hours fully off", "int"),
    ("curtailment_share", "card-hours off", "pct"),
    ("curtailed_hours", "curtailed hours", "int"),
)


def render_html(sim: Any) -> str:
    """The report for a `rigshift.energy.simulate.Simulation`."""
    return render_report(sim.to_json(with_intervals=True))


def render_report(data: dict[str, Any]) -> str:
    """The report for the simulation's JSON (what `energy simulate --json` prints)."""
    strategies = [s for s in STRATEGY_ORDER if isinstance(data.get(s), dict)]
    strategies += [
        k for k, v in data.items() if k not in strategies and isinstance(v, dict) and "net_usd" in v
    ]
    body = [
        "<h1>Energy: the policy against what miners run</h1>",
        _verdict(data, strategies),
        _comparison(data, strategies),
        _high_price(data.get("high_price_hours")),
    ]
    by_site: dict[str, list[dict[str, Any]]] = {}
    for row in data.get("intervals") or []:
        by_site.setdefault(str(row.get("site", "")), []).append(row)
    prices = (data.get("inputs") or {}).get("prices") or {}
    for site, rows in by_site.items():
        body.append(_site(site, rows, prices.get(site) or {}))
    body.append(_events(data.get("events") or []))
    body.append(_inputs(data.get("inputs") or {}, data.get("seconds")))
    return PAGE.format(body="\n".join(b for b in body if b))


# --- the verdict and the tables -----------------------------------------------------------------


def _best_baseline(data: dict[str, Any], strategies: Sequence[str]) -> str | None:
    named = data.get("best_baseline")
    if isinstance(named, str) and isinstance(data.get(named), dict):
        return named
    baselines = [s for s in strategies if s != "policy" and _finite(data[s].get("net_usd")) is not None]
    return max(baselines, key=lambda s: _finite(data[s]["net_usd"]) or 0.0, default=None)


def _verdict(data: dict[str, Any], strategies: Sequence[str]) -> str:
    best = _best_baseline(data, strategies)
    policy = _finite((data.get("policy") or {}).get("net_usd"))
    if best is None or policy is None:
        return ""
    base = _finite(data[best].get("net_usd")) or 0.0
    margin = policy - base
    name = _label(best)
    if margin >= 0:
        text = (
            f"The policy nets <b>{_usd(policy)}</b>, <b class='pos'>{_usd(margin)} more</b> than "
            f"the best baseline, <b>{name}</b> ({_usd(base)})."
        )
    else:
        text = (
            f"<b class='neg'>The policy loses to {name}</b>: it nets {_usd(policy)}, "
            f"<b class='neg'>{_usd(-margin)} less</b> than that baseline ({_usd(base)})."
        )
    return f'<p class="verdict" id="verdict">{text}</p>'


def _comparison(data: dict[str, Any], strategies: Sequence[str]) -> str:
    if not strategies:
        return ""
    best = _best_baseline(data, strategies)
    rows = []
    for key, label, kind in METRICS:
        if not any(key in data[s] for s in strategies):
            continue
        cells = "".join(_metric_cell(data[s], key, kind, s == best, s == "policy") for s in strategies)
        rows.append(f"<tr><th scope='row'>{html.escape(label)}</th>{cells}</tr>")
    head = "".join(
        f"<th scope='col' class='{'best' if s == best else 'policy' if s == 'policy' else ''}'>"
        f"{_header(s)}{'<br><small>best baseline</small>' if s == best else ''}</th>"
        for s in strategies
    )
    return (
        "<h2>Strategies</h2>"
        f"<table id='strategies' class='strategies'><thead><tr><th></th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        "<p class='note'>US$ over the span of the price file (k = thousand, M = million); "
        "hover a figure for its exact value.</p>"
    )


def _metric_cell(row: dict[str, Any], key: str, kind: str, best: bool, policy: bool) -> str:
    cls = "best" if best else "policy" if policy else ""
    value = row.get(key)
    if kind == "deadlines":
        met, total = _finite(value), _finite(row.get("batch_deadlines_total"))
        text = "–" if met is None else f"{met:,.0f}" + ("" if total is None else f" of {total:,.0f}")
        return f"<td class='{cls}'>{text}</td>"
    number = _finite(value)
    if number is None:
        return f"<td class='{cls}'>–</td>"
    if kind == "pct":
        return f"<td class='{cls}'>{number:.0%}</td>"
    if kind == "usd":
        sign = " neg" if number < 0 else ""
        return f"<td class='{cls}{sign}' title='{_usd(number, exact=True)}'>{_usd(number)}</td>"
    return f"<td class='{cls}'>{number:,.0f}</td>"


def _high_price(block: Any) -> str:
    if not isinstance(block, dict):
        return ""
    hours = _finite(block.get("hours"))
    spent = _finite(block.get("energy_cost_usd"))
    earned = _finite(block.get("revenue_usd"))
    if hours is None:
        return ""
    if not hours:
        return "<p id='high-price'>The policy ran in no hour at or above $1,000/MWh.</p>"
    spent, earned = spent or 0.0, earned or 0.0
    lead = f"<p id='high-price'>In the {hours:,.0f} hours at or above $1,000/MWh the policy"
    if not spent and not earned:
        return f"{lead} ran nothing: no power bought, nothing earned.</p>"
    verdict = (
        "<b class='pos'>earned more than it spent</b>"
        if earned >= spent
        else "<b class='neg'>spent more than it earned</b>"
    )
    return f"{lead} spent {_usd(spent)} on power and earned {_usd(earned)}: it {verdict} there.</p>"


def _events(events: Sequence[Any]) -> str:
    rows = []
    for e in events:
        if not isinstance(e, dict):
            continue
        shed_asked, target = _finite(e.get("shed_kw_asked")), _finite(e.get("target_kw"))
        asked = (
            f"shed {shed_asked:,g} kW"
            if shed_asked is not None
            else f"stay under {target:,g} kW"
            if target is not None
            else "shed load"
        )
        rows.append(
            "<li>{site}, {start} → {end}: asked to {asked}; shed up to {shed} kW, {kwh} kWh avoided, "
            "{over} of {n} intervals over target.</li>".format(
                site=html.escape(str(e.get("site"))),
                start=html.escape(str(e.get("start"))),
                end=html.escape(str(e.get("end"))),
                asked=html.escape(asked),
                shed=html.escape(str(e.get("max_kw_shed"))),
                kwh=html.escape(str(e.get("kwh_avoided"))),
                over=html.escape(str(e.get("intervals_over_target"))),
                n=html.escape(str(e.get("intervals"))),
            )
        )
    return f"<h2>Demand-response events</h2><ul id='events'>{''.join(rows)}</ul>" if rows else ""


def _inputs(inputs: dict[str, Any], seconds: Any) -> str:
    lines = []
    for site, s in (inputs.get("prices") or {}).items():
        if isinstance(s, dict):
            lines.append(
                f"<li><b>{html.escape(str(site))}</b>: {html.escape(str(s.get('source')))}, "
                f"{html.escape(str(s.get('kind')))}, {html.escape(str(s.get('start')))} to "
                f"{html.escape(str(s.get('end')))}, {s.get('intervals')} intervals of "
                f"{s.get('step_minutes')} min, mean ${_finite(s.get('mean_usd_mwh')) or 0:,.2f}/MWh, "
                f"max ${_finite(s.get('max_usd_mwh')) or 0:,.2f}/MWh.</li>"
            )
    farm = inputs.get("farm") or {}
    sources = [f"<li>{html.escape(str(p))}</li>" for p in farm.get("provenance") or []]
    took = _finite(seconds)
    return (
        "<h2>Inputs</h2>"
        f"<ul class='inputs'>{''.join(lines)}</ul>"
        + (f"<details><summary>Where the farm's figures come from ({len(sources)})</summary>"
           f"<ul class='sources'>{''.join(sources)}</ul></details>" if sources else "")
        + (f"<p class='note'>Simulated in {took:.1f} s. Times are UTC.</p>" if took is not None else "")
    )  # fmt: skip


# --- plots ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """The shared time axis of one site's plots: [t0, t1) in unix seconds onto 0..VIEW_W."""

    t0: float
    t1: float

    def x(self, t: float | np.ndarray) -> Any:
        return (np.asarray(t, dtype=float) - self.t0) / max(1.0, self.t1 - self.t0) * VIEW_W

    def pct(self, t: float) -> float:
        return float(self.x(t)) / VIEW_W * 100


def _site(site: str, rows: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    starts = np.array([_finite(r.get("start")) or 0.0 for r in rows])
    order = np.argsort(starts, kind="stable")
    rows = [rows[i] for i in order]
    starts = starts[order]
    step = float(np.median(np.diff(starts))) if len(starts) > 1 else 3600.0
    step = step if step > 0 else 3600.0
    axis = Axis(float(starts[0]), float(starts[-1]) + step)
    price = _column(rows, "usd_per_mwh")
    edges = _edges(len(rows), POINTS)
    t_mid = (starts[edges[:-1]] + starts[edges[1:] - 1] + step) / 2
    t_lo, t_hi = starts[edges[:-1]], starts[edges[1:] - 1] + step
    p_mean, p_max = _reduce(price, edges, "mean"), _reduce(price, edges, "max")
    bands = _bands(t_lo, t_hi, p_max, axis)
    ticks = time_ticks(axis.t0, axis.t1)
    out = [f"<section class='site' id='site-{html.escape(site)}'><h2>{html.escape(site)}</h2>"]
    if summary:
        out.append(
            f"<p class='note'>{html.escape(_kind(summary.get('kind')))}"
            f"{summary.get('intervals')} intervals of {summary.get('step_minutes')} min.</p>"
        )
    out.append(_price_plot(axis, t_mid, p_mean, p_max, bands, ticks))
    kw_keys = [k for k in rows[0] if k.endswith("_kw") and k[:-3] in STRATEGY_COLOURS]
    if kw_keys:
        series = {k[:-3]: _reduce(_column(rows, k), edges, "mean") for k in kw_keys}
        out.append(_power_plot(axis, t_mid, series, bands, ticks))
    roles = {
        label: (_reduce(_column(rows, key), edges, "mean"), c) for key, label, c in ROLES if key in rows[0]
    }
    if roles:
        out.append(_timeline(axis, t_lo, t_hi, roles, bands, ticks))
    out.append("</section>")
    return "".join(out)


def _column(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    values = np.array([_finite(r.get(key)) for r in rows], dtype=float)  # None -> nan
    return values


def _edges(n: int, buckets: int) -> np.ndarray:
    return np.unique(np.linspace(0, n, min(n, buckets) + 1).astype(int))


def _reduce(values: np.ndarray, edges: np.ndarray, how: str) -> np.ndarray:
    out = []
    for a, b in itertools.pairwise(edges):
        chunk = values[a:b]
        chunk = chunk[np.isfinite(chunk)]
        out.append(np.nan if not len(chunk) else chunk.max() if how == "max" else chunk.mean())
    return np.array(out, dtype=float)


def _bands(t_lo: np.ndarray, t_hi: np.ndarray, p_max: np.ndarray, axis: Axis) -> str:
    """Shaded spans where a bucket's highest price reaches each band (runs merged)."""
    rects = []
    for threshold, cls, label in BANDS:
        hot = np.where(np.isfinite(p_max), p_max, -np.inf) >= threshold
        for a, b in _runs(hot):
            x0, x1 = float(axis.x(t_lo[a])), float(axis.x(t_hi[b - 1]))
            rects.append(
                f'<rect class="{cls}" x="{x0:.2f}" y="0" width="{max(x1 - x0, 1.5):.2f}" '
                f'height="{VIEW_H:g}"><title>{label}</title></rect>'
            )
    return "".join(rects)


def _runs(mask: np.ndarray) -> Iterable[tuple[int, int]]:
    i, n = 0, len(mask)
    while i < n:
        if mask[i]:
            j = i
            while j < n and mask[j]:
                j += 1
            yield i, j
            i = j
        else:
            i += 1


def symlog(p: np.ndarray | float, c: float = 10.0) -> Any:
    """A signed log scale: linear near zero, log beyond ±c ($/MWh), so spikes and nights both read."""
    p = np.asarray(p, dtype=float)
    return np.sign(p) * np.log10(1 + np.abs(p) / c)


def _price_plot(
    axis: Axis, t: np.ndarray, mean: np.ndarray, peak: np.ndarray, bands: str, ticks: list[Tick]
) -> str:
    finite = np.concatenate([mean[np.isfinite(mean)], peak[np.isfinite(peak)]])
    lo = min(0.0, float(finite.min())) if len(finite) else 0.0
    hi = max(100.0, float(finite.max())) if len(finite) else 100.0
    y_lo, y_hi = float(symlog(lo)), float(symlog(hi)) * 1.04
    candidates = [-1000.0, -100.0, -10.0, 0.0, 10.0, 100.0, 1000.0, 10000.0]
    y_ticks = [(float(symlog(v)), _price_label(v)) for v in candidates if lo <= v <= hi or v == 0.0]

    def y(v: np.ndarray) -> np.ndarray:
        return VIEW_H - (symlog(v) - y_lo) / max(1e-9, y_hi - y_lo) * VIEW_H

    lines = _polyline(axis.x(t), y(peak), "price-max") + _polyline(axis.x(t), y(mean), "price-mean")
    ys = [(VIEW_H - (v - y_lo) / max(1e-9, y_hi - y_lo) * VIEW_H, label) for v, label in y_ticks]
    legend = (
        "<span class='key price-mean'>bucket mean</span><span class='key price-max'>bucket max</span>"
        "<span class='key band-100'>≥ $100/MWh</span><span class='key band-1000'>≥ $1,000/MWh</span>"
    )
    return _figure("price", "Price, $/MWh (log scale beyond ±$10)", bands + lines, ys, ticks, axis, legend)


def _power_plot(
    axis: Axis, t: np.ndarray, series: dict[str, np.ndarray], bands: str, ticks: list[Tick]
) -> str:
    finite = [v[np.isfinite(v)] for v in series.values()]
    hi = max([float(v.max()) for v in finite if len(v)] + [1.0])
    top = _nice(hi)

    def y(v: np.ndarray) -> np.ndarray:
        return VIEW_H - np.clip(v, 0, top) / top * VIEW_H

    ordered = sorted(series, key=lambda k: k == "policy")  # the policy drawn last, on top
    lines = "".join(_polyline(axis.x(t), y(series[k]), f"s-{k}") for k in ordered)
    ys = [(VIEW_H - f * VIEW_H, f"{top * f:,.0f}") for f in (0.0, 0.5, 1.0)]
    legend = "".join(f"<span class='key s-{k}'>{html.escape(_label(k))}</span>" for k in series)
    return _figure("power", "Site draw, kW (PUE included)", bands + lines, ys, ticks, axis, legend)


def _timeline(
    axis: Axis,
    t_lo: np.ndarray,
    t_hi: np.ndarray,
    roles: dict[str, tuple[np.ndarray, str]],
    bands: str,
    ticks: list[Tick],
) -> str:
    """One strip per role; a span's shade is the cards in that role against the role's own most
    (so a role that holds a few cards of a big site still shows when it runs)."""
    strip = VIEW_H / (len(roles) + 0.6)
    shapes = [bands.replace(f'height="{VIEW_H:g}"', f'height="{strip * 0.6:.2f}"')]
    labels = [(strip * 0.3, "price")]
    for r, (name, (values, colour)) in enumerate(roles.items()):
        most = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
        share = np.round(np.nan_to_num(values / most if most > 0 else values * 0) * 10) / 10
        share = np.where((share == 0) & (np.nan_to_num(values) > 0), 0.1, share)  # a few cards still show
        y0 = strip * (r + 0.6)
        labels.append((y0 + strip / 2, name))
        i, n = 0, len(share)
        while i < n:
            j = i
            while j < n and share[j] == share[i]:
                j += 1
            if share[i] > 0:
                x0, x1 = float(axis.x(t_lo[i])), float(axis.x(t_hi[j - 1]))
                shapes.append(
                    f'<rect class="role" data-role="{name}" x="{x0:.2f}" y="{y0 + 1:.2f}" '
                    f'width="{max(x1 - x0, 0.8):.2f}" height="{strip - 2:.2f}" fill="{colour}" '
                    f'fill-opacity="{0.12 + 0.88 * share[i]:.2f}"><title>{name}: up to {most:,.0f} cards'
                    "</title></rect>"
                )
            i = j
    most_text = ", ".join(
        f"{name} {float(np.nanmax(v)) if np.isfinite(v).any() else 0:,.0f}" for name, (v, _) in roles.items()
    )
    legend = (
        "<span class='note'>Shade: cards in the role (bucket mean) against the role's most "
        f"({html.escape(most_text)} cards).</span>"
    )
    return _figure(
        "timeline", "The policy's decisions", "".join(shapes), labels, ticks, axis, legend, tall=True
    )


def _polyline(xs: np.ndarray, ys: np.ndarray, cls: str) -> str:
    """A path broken where values are missing."""
    parts, pen = [], "M"
    for x, y in zip(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), strict=True):
        if not (math.isfinite(x) and math.isfinite(y)):
            pen = "M"
            continue
        parts.append(f"{pen}{x:.1f},{y:.2f}")
        pen = "L"
    return f'<path class="{cls}" d="{" ".join(parts)}"/>' if parts else ""


def _figure(
    kind: str,
    title: str,
    shapes: str,
    y_labels: list[tuple[float, str]],
    ticks: list[Tick],
    axis: Axis,
    legend: str,
    tall: bool = False,
) -> str:
    grid = "".join(
        f'<line class="grid" x1="{axis.x(t.t):.2f}" x2="{axis.x(t.t):.2f}" y1="0" y2="{VIEW_H:g}"/>'
        for t in ticks
    )
    y_html = "".join(
        f"<span class='ylabel' style='top:{y / VIEW_H * 100:.2f}%'>{html.escape(label)}</span>"
        for y, label in y_labels
    )
    x_html = "".join(
        f"<span class='tick{' minor' if not t.major else ''}{' end' if axis.pct(t.t) > 93 else ''}' "
        f"data-t='{int(t.t)}' "
        f"style='left:{axis.pct(t.t):.3f}%'>{html.escape(t.label)}</span>"
        for t in ticks
    )
    return (
        f"<figure class='plot {kind}{' tall' if tall else ''}'><figcaption>{html.escape(title)}</figcaption>"
        f"<div class='frame'><div class='ylabels'>{y_html}</div>"
        f'<svg viewBox="0 0 {VIEW_W:g} {VIEW_H:g}" preserveAspectRatio="none" role="img" '
        f'aria-label="{html.escape(title)}">{grid}{shapes}</svg>'
        f"<div class='xaxis'>{x_html}</div></div><div class='legend'>{legend}</div></figure>"
    )


# --- dated ticks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    t: float
    label: str
    major: bool  # minor labels hide on a narrow screen (their grid line stays)


def time_ticks(t0: float, t1: float) -> list[Tick]:
    """Calendar ticks (UTC) inside [t0, t1]: months for a long span, then weeks, days or hours."""
    # No tick in the last 3% of the span: its label would hang over the plot's right edge.
    start, end = datetime.fromtimestamp(t0, UTC), datetime.fromtimestamp(t1 - 0.03 * (t1 - t0), UTC)
    t1 = end.timestamp()
    days = (t1 - t0) / 86400
    ticks: list[Tick] = []
    if days > 100:
        y, m = start.year, start.month
        first = True
        while True:
            moment = datetime(y, m, 1, tzinfo=UTC)
            if moment >= end:
                break
            if moment >= start:
                label = moment.strftime("%b %Y" if first or m == 1 else "%b")
                ticks.append(Tick(moment.timestamp(), label, m % 2 == 1 or days < 200))
                first = False
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return ticks
    step_days = 7 if days > 21 else 1 if days > 2 else 0
    if step_days:
        moment = datetime(start.year, start.month, start.day, tzinfo=UTC)
        n = 0
        while moment < end:
            if moment >= start:
                major = (n % 2 == 0) or days <= 7 * step_days
                ticks.append(Tick(moment.timestamp(), moment.strftime("%b %-d"), major))
                n += 1
            moment = datetime.fromtimestamp(moment.timestamp() + step_days * 86400, UTC)
        return ticks
    hours = 6 if days > 1 else 3 if days > 0.5 else 1
    t = math.ceil(t0 / (hours * 3600)) * hours * 3600
    n = 0
    while t < t1:
        moment = datetime.fromtimestamp(t, UTC)
        label = moment.strftime("%b %-d %H:%M" if moment.hour == 0 or n == 0 else "%H:%M")
        ticks.append(Tick(float(t), label, n % 2 == 0))
        n += 1
        t += hours * 3600
    return ticks


# --- formats -------------------------------------------------------------------------------------


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _usd(value: float, exact: bool = False) -> str:
    sign = "−" if value < 0 else ""
    v = abs(value)
    if exact or v < 1000:
        return f"{sign}${v:,.2f}" if exact or v < 100 else f"{sign}${v:,.0f}"
    if v < 1e6:
        return f"{sign}${v / 1e3:,.1f}k"
    return f"{sign}${v / 1e6:,.2f}M"


def _price_label(v: float) -> str:
    return ("−$" if v < 0 else "$") + f"{abs(v):,.0f}"


def _nice(v: float) -> float:
    """The next of 1, 2, 2.5, 5 × 10^k at or above v."""
    power = 10 ** math.floor(math.log10(v)) if v > 0 else 1.0
    return next(f * power for f in (1, 2, 2.5, 5, 10) if f * power >= v)


def _kind(kind: Any) -> str:
    """'day-ahead prices, ' for a known market, nothing for a file that does not say."""
    return f"{kind} prices, " if kind in ("day-ahead", "real-time", "tariff") else ""


def _label(name: str) -> str:
    return name.replace("_", " ").replace("ai ", "AI ")


def _header(name: str) -> str:
    """A column head that may break inside "curtailed" (a soft hyphen) on a phone, not anywhere."""
    return html.escape(_label(name)).replace("curtailed", "cur&shy;tailed")


STYLE = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;padding:12px 16px;
max-width:1100px;color:#111827}
h1{font-size:1.35rem;margin:.3em 0}h2{font-size:1.1rem;margin:1.4em 0 .4em}
.verdict{font-size:1.05rem;background:#f3f4f6;border-radius:6px;padding:8px 12px}
.pos{color:#047857}.neg{color:#b91c1c}.note{color:#6b7280;font-size:.85rem}
table.strategies{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;table-layout:fixed}
.strategies th,.strategies td{padding:4px 6px;border-bottom:1px solid #e5e7eb;text-align:right;
overflow-wrap:anywhere}
.strategies th[scope=row]{text-align:left;font-weight:500;width:26%;overflow-wrap:normal}
.strategies thead th{vertical-align:bottom;font-weight:600;overflow-wrap:normal}
.strategies .policy{background:#eff6ff}.strategies .best{background:#fef3c7}
.strategies small{font-weight:400;color:#92400e}
figure.plot{margin:14px 0 22px}figcaption{font-weight:600;font-size:.92rem;margin-bottom:4px}
.frame{position:relative;margin-left:64px;height:170px}
.tall .frame{height:150px}
.frame svg{position:absolute;inset:0;width:100%;height:100%;overflow:visible;background:#fafafa}
.frame path{fill:none;vector-effect:non-scaling-stroke;stroke-width:1.3}
.grid{stroke:#e5e7eb;vector-effect:non-scaling-stroke}
.price-mean{stroke:#111827}.price-max{stroke:#dc2626;stroke-width:.8 !important;opacity:.7}
.band-100{fill:#fde68a;opacity:.55}.band-1000{fill:#fca5a5;opacity:.75}
.s-policy{stroke:#1d4ed8;stroke-width:1.8 !important}.s-always_on{stroke:#dc2626}
.s-mining_only{stroke:#6b7280}.s-mining_curtailed{stroke:#d97706}.s-ai_curtailed{stroke:#059669}
.ylabels{position:absolute;left:-64px;top:0;bottom:0;width:60px}
.ylabel{position:absolute;right:0;transform:translateY(-50%);font-size:11px;color:#4b5563;white-space:nowrap}
.tall .ylabel{font-size:11px}
.xaxis{position:absolute;left:0;right:0;top:100%;height:18px}
.tick.end{transform:translateX(-100%)}
.tick{position:absolute;top:3px;transform:translateX(-50%);font-size:11px;color:#374151;white-space:nowrap}
.legend{margin:24px 0 0 64px;font-size:12px;color:#374151;display:flex;flex-wrap:wrap;gap:4px 12px}
.key::before{content:"";display:inline-block;width:14px;height:3px;margin-right:4px;vertical-align:middle;
background:currentColor}
.key.price-mean{color:#111827}.key.price-max{color:#dc2626}
.key.band-100::before{height:10px;background:#fde68a}.key.band-1000::before{height:10px;background:#fca5a5}
.key.s-policy{color:#1d4ed8}.key.s-always_on{color:#dc2626}.key.s-mining_only{color:#6b7280}
.key.s-mining_curtailed{color:#d97706}.key.s-ai_curtailed{color:#059669}
.key{color:#374151}
code,pre{overflow-wrap:anywhere;word-break:break-all;white-space:pre-wrap}
ul.inputs,ul.sources,#events{padding-left:1.2em;font-size:.9rem;overflow-wrap:anywhere}
@media (max-width:640px){
 body{padding:8px 10px;font-size:14px}
 .tick.minor{visibility:hidden}
 .strategies{font-size:12px}.strategies th,.strategies td{padding:3px 2px}
 .strategies th[scope=row]{width:22%}
 .frame{margin-left:62px}.ylabels{left:-62px;width:58px}.legend{margin-left:62px}
 .ylabel{font-size:10px}
}
"""

PAGE = (
    "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
    "<meta name='viewport' content='width=device-width, initial-scale=1'>"
    "<title>rigshift energy simulate</title><style>"
    + STYLE.replace("{", "{{").replace("}", "}}")
    + "</style></head><body>\n{body}\n</body></html>\n"
)
