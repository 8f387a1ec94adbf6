"""`rigshift energy simulate`'s text: the strategies side by side, the verdict against the best
baseline, the hard limits, the policy's hours per role, and the sources as one footnote list.

Every line fits the console's width: 80 columns gets two narrow tables, 120 and more one wide
table; prose and sources longer than the width wrap with a hanging indent (a source cut short would
lose the address a reader opens)."""

from __future__ import annotations

import textwrap
from typing import Any

from rich.console import Console

from rigshift.energy.simulate import BASELINES, HIGH_PRICE_USD_MWH, STRATEGIES

_MONEY = (
    ("net $", "net_usd"),
    ("energy $", "energy_cost_usd"),
    ("tokens $", "token_revenue_usd"),
    ("mining $", "mining_revenue_usd"),
    ("credit $", "power_credit_usd"),
    ("fixed $", "fixed_cost_usd"),
)
_SERVICE = (
    ("batch met", "batch"),
    ("SLO min lost", "slo_minutes_lost"),
    ("hours off", "hours_off"),
    ("off %", "curtailment_share"),
)
WIDE = 120


def _cell(row: dict[str, Any], key: str) -> str:
    if key == "batch":
        return f"{row['batch_deadlines_met']}/{row['batch_deadlines_total']}"
    if key == "curtailment_share":
        return f"{100 * row[key]:.1f}"
    return f"{row[key]:,.0f}"


def _table(data: dict[str, Any], columns: tuple[tuple[str, str], ...], width: int) -> list[str]:
    names = [n for n in STRATEGIES if n in data]
    first = max(len(n) for n in names) + 1
    cells = {n: [_cell(data[n], key) for _, key in columns] for n in names}
    widths = [max(len(title), *(len(cells[n][i]) for n in names)) + 1 for i, (title, _) in enumerate(columns)]
    lines = ["strategy".ljust(first) + "".join(t.rjust(w) for (t, _), w in zip(columns, widths, strict=True))]
    for n in names:
        lines.append(n.ljust(first) + "".join(c.rjust(w) for c, w in zip(cells[n], widths, strict=True)))
    return [line[:width] for line in lines]


def _usd(value: float, cents: int = 0) -> str:
    digits = cents if abs(value) < 100 else 0
    return f"{'-' if value < 0 else ''}${abs(value):,.{digits}f}"


def report_lines(data: dict[str, Any], width: int = 80) -> list[str]:
    """The report as lines of at most `width` characters."""
    lines: list[str] = []
    prices = data["inputs"]["prices"]
    for n, (site, s) in enumerate(prices.items(), start=1):
        lines.append(
            f"{site} {s['start'][:10]}..{s['end'][:10]}, {s['intervals']:,} x {s['step_minutes']} min, "
            f"$/MWh mean {s['mean_usd_mwh']:,.1f} max {s['max_usd_mwh']:,.0f} [{n}]"
        )
    lines.append("")
    if width >= WIDE:
        lines += _table(data, _MONEY + _SERVICE, width)
    else:
        lines += _table(data, _MONEY, width)
        lines.append("")
        lines += _table(data, _SERVICE, width)
    lines.append("")
    if "best_baseline" in data:
        best = data["best_baseline"]
        margin = data["policy_margin_usd"]
        if data["policy_loses"]:
            lines.append(f"THE POLICY LOSES: {_usd(-margin, 2)} less than {best}, the best baseline.")
        else:
            lines.append(f"policy nets {_usd(margin, 2)} more than {best}, the best baseline.")
        others = [n for n in BASELINES if n in data and n != best]
        lines += _wrap(
            "  policy minus the others: "
            + ", ".join(f"{n} {_usd(data['policy']['net_usd'] - data[n]['net_usd'])}" for n in others),
            width,
        )
    pol = data.get("policy")
    if pol is not None:
        high = data["high_price_hours"]
        lines.append(
            f"hours at >= ${HIGH_PRICE_USD_MWH:,.0f}/MWh: {high['hours']:,.1f} h; the policy spent "
            f"{_usd(high['energy_cost_usd'])} and earned {_usd(high['revenue_usd'])} in them."
        )
        ceiling = data["inputs"].get("slo_ceiling_usd_per_mwh", {})
        for site, value in ceiling.items():
            source = "given" if data["inputs"]["power"].get("voll_usd_per_mwh") else "revenue at risk"
            shown = "none" if value is None else f"${value:,.0f}/MWh"
            lines.append(
                f"SLO ceiling, {site}: {shown} ({source}); "
                f"{pol['slo_minutes_above_ceiling']:,.0f} min shed above it."
            )
        if pol["power_credit_usd"] or pol["transmission_usd"]:
            lines.append(
                f"power credit {_usd(pol['resale_usd'])} resale + {_usd(pol['demand_response_usd'])} demand "
                f"response; 4CP transmission {_usd(pol['transmission_usd'])}."
            )
        lines.append("")
        lines += _roles(pol["roles"], width)
    sources = [f"prices: {s['source']}" for s in prices.values()]
    sources += list(data["inputs"]["farm"].get("provenance", ()))
    lines.append("")
    lines.append("sources:")
    for n, text in enumerate(sources, start=1):
        lines += _wrap(f"[{n}] {text}", width)
    return [line[:width] for line in lines]


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, subsequent_indent="    ", break_on_hyphens=False) or [""]


def _roles(roles: dict[str, Any], width: int) -> list[str]:
    head = f"{'policy, by role':<16}{'card-h':>10}{'MWh':>9}{'spend $':>10}{'revenue $':>11}{'>=$1k spend $':>15}"
    out = [head]
    for role, row in roles.items():
        high = row["by_band"].get("1000_up", {}).get("spend_usd", 0.0)
        out.append(
            f"{role:<16}{row['card_hours']:>10,.0f}{row['mwh']:>9,.1f}{row['spend_usd']:>10,.0f}"
            f"{row['revenue_usd']:>11,.0f}{high:>15,.0f}"
        )
    return [line[:width] for line in out]


def print_report(data: dict[str, Any], out: Console) -> None:
    for line in report_lines(data, max(60, out.width)):
        out.print(line, markup=False, highlight=False)


__all__ = ["print_report", "report_lines"]
