"""Terminal rendering of an `Economics` (rich tables). Rounds money for display only.

Every table is a `fitted_table` at the console's width (80 and 120 columns read whole: the card class
and the verdict are never cut; break-evens and other secondary columns drop first, and the caption
says which and that --json and --html have everything); paragraphs wrap at the width. On a pipe
nothing is dropped or wrapped: one row per line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from rigshift.econ.analysis import Economics
from rigshift.econ.cards import UseResult
from rigshift.tables import UNLIMITED_WIDTH, Col, fitted_table


def money(value: float | None, cents: bool = True) -> str:
    if value is None:
        return "—"
    text = f"${abs(value):,.2f}" if cents else f"${abs(value):,.0f}"
    # "-$0.00" would say a loss that rounds away is one: only show the sign when it survives rounding.
    return f"-{text}" if value < 0 and text.strip("$0.,") else text


def months(value: float | None) -> str:
    if value is None:
        return "never"
    return "at once" if value == 0 else f"{value:.1f} mo"


def price(value: float | None) -> str:
    """A break-even power price; below zero means no power price makes the use pay (staff included)."""
    if value is None:
        return "—"
    return "never" if value < 0 else f"${value:.3f}"


def count(value: float) -> str:
    """Large daily volumes readably: 1.2 M, 250 k."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:,.1f} {unit}"
    return f"{value:,.0f}"


EVERYTHING = "--json and --html have every field"
UNDATED = ("", "n/a", "na", "none", "?", "undated")


def dated(as_of: str | None) -> str | None:
    """A figure's date, or None when it has none ("n/a" in the defaults means undated)."""
    return None if as_of is None or as_of.strip().lower() in UNDATED else as_of


def as_of_text(as_of: str | None) -> str:
    """ "as of 2026-11", or "undated"."""
    date = dated(as_of)
    return f"as of {date}" if date else "undated"


def _table(
    columns: Sequence[Col], rows: Sequence[Sequence[str]], width: int, title: str, caption: str | None = None
) -> Table:
    return fitted_table(columns, rows, width, title=title, caption=caption, everything=EVERYTHING)


def _net(result: UseResult) -> str:
    return money(result.net_usd_day) if result.available else "n/a"


# The per-card-class columns, shared by the terminal table and the HTML report.
CARD_COLUMNS = (
    "class",
    "GPUs",
    "$/kWh",
    "mining",
    "rental",
    "inference",
    "best",
    "break-even $/kWh mine / AI",
    "break-even util.",
)


def cards_table(economics: Economics, width: int = UNLIMITED_WIDTH) -> Table:
    # The class and the verdict are never cut; the break-evens go first, then the power price.
    drops = {"$/kWh": 7, "GPUs": 4, "mining": 3, "rental": 2, "inference": 1}
    drops |= {CARD_COLUMNS[7]: 9, CARD_COLUMNS[8]: 8}
    columns = tuple(
        Col(c, "left" if c in ("class", "best") else "right", drop=drops.get(c, 0)) for c in CARD_COLUMNS
    )
    rows = []
    for c in economics.cards:
        infer = c.inference
        rows.append(
            (
                f"{c.card.gpu_name} @ {c.card.site}",
                str(c.card.count),
                price(c.card.usd_per_kwh),
                _net(c.mining),
                _net(c.rental),
                f"{_net(infer)} {infer.model_class or ''}".strip(),
                c.best_use,
                f"{price(c.mining.break_even_usd_kwh)} / {price(infer.break_even_usd_kwh)}",
                break_even_text(c.break_even_utilisation, economics.inputs.ai.max_utilisation),
            )
        )
    title = (
        "Per card class: net $/day per card (revenue − power − AI staff share; inference at the "
        "utilisation its demand gives the class); best = the plan's verdict"
    )
    return _table(columns, rows, width, title)


def break_even_text(u: float | None, ceiling: float) -> str:
    """A break-even utilisation above the ceiling a replica is kept under is never reached."""
    if u is None:
        return "—"
    return f"{u:.0%} (never: > {ceiling:.0%} max)" if u > ceiling else f"{u:.0%}"


def demand_text(economics: Economics) -> Text:
    d = economics.inputs.ai.demand
    ai = economics.inputs.ai
    date = dated(d.as_of)
    return Text(
        f"Demand assumed: {count(economics.tokens_per_day)} tokens/day, {count(economics.requests_per_day)} "
        f"requests/day of {ai.input_tokens_per_request:,} prompt + {ai.output_tokens_per_request:,} output "
        f"tokens (revenue can never exceed what it buys) — {d.source}" + (f", as of {date}" if date else "")
    )


def demand_table(economics: Economics, width: int = UNLIMITED_WIDTH) -> Table:
    columns = (
        Col("class"),
        Col("$/M in/out", "right", drop=5),
        Col("replica", "right", drop=8),
        Col("demand req/day", "right"),
        Col("tokens/day", "right", drop=7),
        Col("served req/day", "right"),
        Col("served tokens/day", "right", drop=6),
        Col("GPUs", "right", drop=3),
        Col("busy", "right", drop=4),
        Col("revenue/month", "right"),
    )
    prices = {p.name: p for p in economics.inputs.ai.token_prices}
    rows = []
    for s in economics.plan.service:
        p = prices[s.model_class]
        rows.append(
            (
                f"{s.model_class} ({p.model})",
                f"${p.usd_per_m_input:g}/${p.usd_per_m_output:g}",
                f"{p.parallel or '?'} × {p.context or '?'}",
                count(s.requests_per_day),
                count(s.tokens_per_day),
                count(s.served_requests_per_day),
                count(s.served_tokens_per_day),
                str(s.gpus),
                "—" if s.utilisation is None else f"{s.utilisation:.0%}",
                money(s.served_requests_per_day * s.usd_per_request * 365.25 / 12, cents=False),
            )
        )
    return _table(columns, rows, width, "Demand and what the plan serves, per price class")


def _indented(lines: list[str]) -> RenderableType:
    """Lines that wrap under their own indent, not back at the margin."""
    return Group(*(Padding(Text(line), (0, 0, 0, 2), expand=False) for line in lines))


def unassessed_text(economics: Economics) -> RenderableType | None:
    if not economics.unassessed:
        return None
    total = sum(u.count for u in economics.unassessed)
    head = f"Unassessed: {total} GPUs the GPU catalog does not know (counted, left out of every figure):"
    items = [f"{u.count} × {u.name} @ {u.site}: {u.hint}" for u in economics.unassessed]
    return Group(Text(head), _indented(items))


def unlocks_table(economics: Economics, width: int = UNLIMITED_WIDTH) -> Table | None:
    if not economics.unlocks:
        return None
    value = economics.value_per_ready_gpu_month or 0.0
    columns = (
        Col("action", wrap=True),
        Col("cost", "right", drop=1, wrap=True),
        Col("monthly gain", "right"),
        Col("gain/$", "right", drop=3),
        Col("effect", drop=2, wrap=True),
    )
    rows = [
        (
            u.text,
            "—" if u.cost_usd is None else f"{money(u.cost_usd, False)} ({u.cost_detail})",
            "—" if u.monthly_gain_usd is None else money(u.monthly_gain_usd, False),
            "free" if u.cost_usd == 0 else ("—" if u.gain_per_usd is None else f"{u.gain_per_usd:.3f}"),
            u.effect,
        )
        for u in economics.unlocks
    ]
    title = (
        "Unlock actions, priced from these inputs, ranked by monthly gain per $ (an AI-ready GPU "
        f"adds {money(value, False)}/month at this demand; a tier up half that, an assumption)"
    )
    return _table(columns, rows, width, title)


def details_table(economics: Economics, width: int = UNLIMITED_WIDTH) -> Table:
    columns = (
        Col("class"),
        Col("use"),
        Col("revenue/day", "right", drop=2),
        Col("power/day", "right", drop=3),
        Col("detail", drop=1, wrap=True),
    )
    rows = []
    for c in economics.cards:
        for r in (c.mining, c.rental, *c.inference_options):
            label = r.use if r.model_class is None else f"{r.use} {r.model_class}"
            rows.append(
                (
                    f"{c.card.gpu_name} @ {c.card.site}",
                    label,
                    money(r.revenue_usd_day) if r.available else "",
                    money(r.power_cost_usd_day) if r.available else "",
                    r.detail,
                )
            )
    return _table(columns, rows, width, "What each use means per card")


def totals_table(economics: Economics, width: int = UNLIMITED_WIDTH) -> Table:
    t = economics.totals
    columns = (
        Col("use"),
        Col("GPUs able", "right", drop=1),
        Col("revenue/day", "right", drop=3),
        Col("power/day", "right", drop=4),
        Col("net/day", "right", drop=2),
        Col("net/month", "right"),
    )
    rows = [
        (
            u.use,
            str(u.gpus),
            money(u.revenue_usd_day),
            money(u.power_cost_usd_day),
            money(u.net_usd_day),
            money(u.net_usd_day * 365.25 / 12, cents=False),
        )
        for u in t.by_use
    ]
    rows.append(
        ("each card's best", "", "", "", money(t.best_net_usd_day), money(t.best_net_usd_month, cents=False))
    )
    return _table(columns, rows, width, f"Fleet totals ({t.gpus} GPUs) if every card did one use")


def plan_table(economics: Economics, width: int = UNLIMITED_WIDTH) -> Table:
    columns = (
        Col("step", wrap=True),
        Col("capex", "right"),
        Col("monthly gain", "right"),
        Col("payback", "right"),
    )
    rows = [
        (
            s.description,
            money(s.capex_usd, cents=False),
            money(s.monthly_gain_usd, cents=False),
            months(s.payback_months),
        )
        for s in economics.plan.steps
    ]
    return _table(columns, rows, width, "Conversion plan")


def plan_summary(economics: Economics) -> Text:
    p = economics.plan
    lines = [
        f"monthly revenue: {money(p.monthly_revenue_before_usd, False)} before → "
        f"{money(p.monthly_revenue_after_usd, False)} after",
        f"monthly net (after power, AI staff): {money(p.monthly_net_before_usd, False)} before → "
        f"{money(p.monthly_net_after_usd, False)} after",
        f"spend {money(p.spend_usd, False)}, sale proceeds {money(p.sale_proceeds_usd, False)}, "
        f"net capex {money(p.net_capex_usd, False)} (budget {money(p.capex_budget_usd, False)} new money)",
    ]
    for site in sorted(set(p.power_kw_before) | set(p.power_kw_after)):
        budget = p.site_power_budget_kw.get(site)
        limit = f" of {budget:.1f} kW" if budget is not None else ""
        lines.append(
            f"power at {site}: {p.power_kw_before.get(site, 0):.1f} kW before → "
            f"{p.power_kw_after.get(site, 0):.1f} kW after{limit}"
        )
    return Text("\n".join(lines))


def sensitivity_table(economics: Economics, width: int = UNLIMITED_WIDTH) -> Table | None:
    s = economics.sensitivity
    if s is None:
        return None
    # Token-price columns furthest from today's prices (x1) drop first; x1 is never dropped. On a
    # terminal the plan sits under the figure; on a pipe beside it (one row per line).
    sep = " " if width >= UNLIMITED_WIDTH else "\n"
    far = sorted(s.token_factors, key=lambda tf: abs(_log2(tf)))
    columns = (
        Col("power $/kWh", "right"),
        Col("mining only", "right", drop=len(far) + 1),
        *(
            Col(f"tokens ×{tf:g}", "right", drop=far.index(tf) + 1 if tf != 1 else 0)
            for tf in s.token_factors
        ),
    )
    rows = []
    for pf in s.power_factors:
        cells = [s.cell(pf, tf) for tf in s.token_factors]
        rows.append(
            (
                price(cells[0].usd_per_kwh),
                money(cells[0].monthly_net_before_usd, False),
                *(f"{money(c.monthly_net_usd, False)}{sep}{c.plan_summary}" for c in cells),
            )
        )
    return _table(columns, rows, width, "Sensitivity: monthly net after the plan (and what the plan does)")


def _log2(x: float) -> float:
    return math.log2(x) if x > 0 else float("-inf")


def demand_sweep_table(economics: Economics, width: int = UNLIMITED_WIDTH) -> Table | None:
    s = economics.sensitivity
    if s is None or not s.demand_cells:
        return None
    columns = (
        Col("demand", "right"),
        Col("req/day", "right", drop=2),
        Col("served/day", "right", drop=3),
        Col("busy", "right", drop=4),
        Col("monthly net", "right"),
        Col("plan", drop=1, wrap=True),
    )
    rows = [
        (
            f"×{c.demand_factor:g}",
            count(c.requests_per_day),
            count(c.served_requests_per_day),
            "—" if c.utilisation is None else f"{c.utilisation:.0%}",
            money(c.monthly_net_usd, False),
            c.plan_summary,
        )
        for c in s.demand_cells
    ]
    title = "Sensitivity to demand (and so utilisation), at today's power and token prices"
    return _table(columns, rows, width, title)


def _origin(economics: Economics, section: str, key: str) -> str:
    """Where one figure came from: the default (with its date) or the operator's file."""
    for p in economics.inputs.provenance:
        if p.what.startswith(f"{section}:") and key in p.what:
            flag = (
                ", ILLUSTRATIVE in part or whole (see source)" if "ILLUSTRATIVE" in p.source.upper() else ""
            )
            return f"{'DEFAULT, ' if p.is_default else ''}{as_of_text(p.as_of)}{flag}"
    return "given"


def key_figures(economics: Economics) -> list[tuple[str, str, str]]:
    """(figure, value, origin) for every input that drives the verdict, as used in this run."""
    inputs, ai, cap = economics.inputs, economics.inputs.ai, economics.inputs.capital
    names = {c.card.gpu_key: c.card.gpu_name for c in (*economics.cards, *economics.purchasable)}
    sites = sorted({(c.card.site, c.card.usd_per_kwh) for c in economics.cards})
    rows = [
        (
            "power price",
            ", ".join(f"{site} ${p:.3f}/kWh" for site, p in sites),
            "prices file"
            if inputs.power.override_sites
            else "fleet file's site prices, else " + _origin(economics, "power", "usd_per_kwh"),
        ),
        (
            "token prices ($/M in/out)",
            ", ".join(f"{p.name} ${p.usd_per_m_input:g}/${p.usd_per_m_output:g}" for p in ai.token_prices),
            _origin(economics, "tokens", "classes"),
        ),
        (
            "demand (requests/day)",
            ", ".join(f"{c.name} {c.requests_per_day:,.0f}" for c in ai.demand.classes) or "none",
            _origin(economics, "demand", "requests")
            if "ASSUMPTION" in ai.demand.source
            else ai.demand.source,
        ),
        (
            "utilisation",
            f"at most {ai.max_utilisation:.0%} of any hour per replica; the demand sets the rest",
            _origin(economics, "tokens", "max_utilisation"),
        ),
        (
            "request mix",
            f"{ai.input_tokens_per_request:,} prompt + {ai.output_tokens_per_request:,} output tokens",
            _origin(economics, "tokens", "input_tokens_per_request"),
        ),
        (
            "rent ($/GPU-hour)",
            ", ".join(
                f"{names.get(k, k)} ${v:g}" for k, v in sorted(ai.rent_usd_per_hour.items()) if k in names
            )
            + f"; {ai.rental_utilisation:.0%} occupancy, {ai.marketplace_fee:.0%} fee",
            _origin(economics, "rent", "usd_per_gpu_hour"),
        ),
        (
            "card resale ($)",
            ", ".join(f"{names[k]} ${v:,.0f}" for k, v in sorted(cap.resale_usd.items()) if k in names)
            or "none",
            _origin(economics, "capital", "resale_usd"),
        ),
        (
            "card purchase ($)",
            ", ".join(f"{names.get(k, k)} ${v:,.0f}" for k, v in sorted(cap.buy_usd.items())) or "none",
            _origin(economics, "capital", "buy_usd"),
        ),
        (
            "AI staff",
            f"${cap.staff_usd_per_month:,.0f}/month per {cap.staff_gpus} AI GPUs "
            f"(${cap.staff_usd_per_month / cap.staff_gpus:,.2f}/GPU-month, in every AI net and break-even)",
            _origin(economics, "capital", "staff_usd_per_month"),
        ),
        (
            "one-off costs",
            f"setup ${cap.setup_usd_per_gpu:g}/GPU, host ${cap.host_usd:g}, board ${cap.board_usd:g}, "
            f"CPU ${cap.cpu_usd:g}, SSD ${cap.ssd_usd:g}, riser ${cap.riser_usd:g}, RAM ${cap.ram_usd_per_gib:g}/GiB",
            _origin(economics, "capital", "setup_usd_per_gpu"),
        ),
        (
            "money",
            f"{cap.cost_of_capital_annual:.0%}/year over {cap.horizon_months} months; budget "
            f"{money(economics.inputs.constraints.capex_budget_usd, False)}",
            _origin(economics, "capital", "cost_of_capital_annual"),
        ),
    ]
    return rows


def figures_table(economics: Economics, width: int = UNLIMITED_WIDTH) -> Table:
    # The date and whether a figure is a default are what the verdict rests on: never dropped.
    columns = (Col("figure"), Col("value", wrap=True), Col("from", wrap=True))
    title = "Figures that drive the verdict (sources and dates under 'Inputs used')"
    return _table(columns, key_figures(economics), width, title)


def provenance_text(economics: Economics) -> RenderableType:
    as_of = economics.inputs.as_of
    lines = (
        [f"as of {as_of}: coin block rewards by each chain's emission schedule (--as-of to change)"]
        if as_of
        else []
    )
    for p in economics.inputs.provenance:
        tag = "DEFAULT " if p.is_default else ""
        lines.append(f"{tag}{p.what} — {as_of_text(p.as_of)} — {p.source}")
    for note in economics.notes:
        lines.append(f"note: {note}")
    return Group(Text("Inputs used:"), _indented(lines))


def render_terminal(economics: Economics, console: Console, details: bool = False) -> None:
    """Everything, fitted to the console's width (an unlimited width on a pipe: nothing wraps)."""
    width = console.width
    parts: list[RenderableType] = [demand_text(economics), cards_table(economics, width)]
    if details:
        parts.append(details_table(economics, width))
    parts += [
        demand_table(economics, width),
        totals_table(economics, width),
        plan_table(economics, width),
        plan_summary(economics),
    ]
    for extra in (
        unlocks_table(economics, width),
        sensitivity_table(economics, width),
        demand_sweep_table(economics, width),
        unassessed_text(economics),
    ):
        if extra is not None:
            parts.append(extra)
    parts += [figures_table(economics, width), provenance_text(economics)]
    console.print(Group(*parts))
