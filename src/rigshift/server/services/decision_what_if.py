"""The console's what-if: the farm decision recomputed on other power prices, token prices, demand
or service level, by the same `decide` every view reads (docs/decision.md), never a second formula.

Prices scale as econ's sensitivity sweep scales them (`rigshift econ`'s table): every site's power
price (the fleet file's, else the prices' default, and a price series' hours) and every token price;
the demand scales each price class's requests a day. The decision at factor 1 and the default
service level is the server's own decision, the one `GET /admin/overview` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rigshift.decision.compute import FarmDecision
from rigshift.decision.now import NetNow, count_by_use, net_now
from rigshift.decision.types import DEFAULT_MAX_TTFT_S
from rigshift.econ.inputs import EconInputs
from rigshift.fleet.model import Fleet
from rigshift.plan import Plan


@dataclass(frozen=True)
class WhatIf:
    """The changed inputs; each factor multiplies the default (1: unchanged)."""

    power_factor: float = 1.0
    token_factor: float = 1.0
    demand_factor: float = 1.0
    max_ttft_s: float = DEFAULT_MAX_TTFT_S

    @property
    def is_default(self) -> bool:
        return (self.power_factor, self.token_factor, self.demand_factor, self.max_ttft_s) == (
            1.0,
            1.0,
            1.0,
            DEFAULT_MAX_TTFT_S,
        )


def scaled(fleet: Fleet, inputs: EconInputs, what: WhatIf) -> tuple[Fleet, EconInputs]:
    """The fleet and prices with every power price, token price and demand scaled."""
    pf, tf, df = what.power_factor, what.token_factor, what.demand_factor
    if pf != 1.0:
        fleet = fleet.model_copy(
            update={
                "sites": [
                    s
                    if s.power_price_usd_kwh is None
                    else s.model_copy(update={"power_price_usd_kwh": s.power_price_usd_kwh * pf})
                    for s in fleet.sites
                ]
            }
        )
        series = inputs.power.series
        if series is not None:
            series = series.model_copy(
                update={
                    "mean_usd_kwh": series.mean_usd_kwh * pf,
                    "min_usd_kwh": series.min_usd_kwh * pf,
                    "max_usd_kwh": series.max_usd_kwh * pf,
                    "duration_curve": tuple((p * pf, share) for p, share in series.duration_curve),
                }
            )
        inputs = inputs.model_copy(
            update={
                "power": inputs.power.model_copy(
                    update={"usd_per_kwh": inputs.power.usd_per_kwh * pf, "series": series}
                )
            }
        )
    ai = inputs.ai
    if tf != 1.0:
        prices = tuple(
            p.model_copy(
                update={
                    "usd_per_m_input": p.usd_per_m_input * tf,
                    "usd_per_m_output": p.usd_per_m_output * tf,
                }
            )
            for p in ai.token_prices
        )
        ai = ai.model_copy(update={"token_prices": prices})
    if df != 1.0:
        ai = ai.model_copy(update={"demand": ai.demand.scaled(df)})
    if ai is not inputs.ai:
        inputs = inputs.model_copy(update={"ai": ai})
    return fleet, inputs


def placement_rows(plan: Plan | None) -> list[dict[str, Any]]:
    """The decision's replicas as the console's placement table: where, on what, how fast, and
    what each earns and costs a day (the planner's value: the demand's price at the stated
    utilisation, never its full capacity)."""
    if plan is None:
        return []
    return [
        {
            "replica": r.id,
            "site": r.site,
            "rig": r.rig,
            "gpus": [f"{g.rig}/{g.index}" for g in r.gpus],
            "gpu_models": sorted({g.model for g in r.gpus}),
            "model": r.model,
            "quant": r.quant,
            "tokens_per_s": r.tokens_per_s,
            "revenue_usd_day": round(r.revenue_usd_per_h * 24, 4),
            "power_usd_day": round(r.power_cost_usd_per_h * 24, 4),
            "net_usd_day": round((r.revenue_usd_per_h - r.power_cost_usd_per_h) * 24, 4),
        }
        for r in plan.replicas
    ]


def money_rows(made: FarmDecision, now: NetNow | None = None) -> dict[str, Any] | None:
    """The conversion plan's money, capex and sale proceeds apart (never netted into one figure).
    `now`: the money now from the live states (the Overview's); default the model's, labelled so."""
    e = made.economics
    if e is None:
        return None
    p = e.plan
    return {
        "monthly_net_now_usd": made.summary.monthly_net_usd.now,
        "monthly_net_after_usd": made.summary.monthly_net_usd.after,
        "capex_usd": p.spend_usd,
        "sale_proceeds_usd": p.sale_proceeds_usd,
        # What the model's "now" assumes each card does (econ's before: its best use today).
        "now_by_use": count_by_use(a for a in p.before if not a.bought),
        "after_by_use": count_by_use(a for a in p.after if not a.bought),
        # The "now" the console shows: from the agents' live states where they report, else the
        # model's, with the words that say which (decision/now.py).
        "now": (now or net_now(made)).model_dump(mode="json"),
    }


def payload(made: FarmDecision, what: WhatIf) -> dict[str, Any]:
    """What `GET /admin/decision` returns: the decision object every view prints, and the
    placement and money the console shows beside it."""
    return {
        "decision": made.summary.model_dump(mode="json"),
        "what_if": {
            "power_factor": what.power_factor,
            "token_factor": what.token_factor,
            "demand_factor": what.demand_factor,
            "max_ttft_s": what.max_ttft_s,
        },
        "placement": placement_rows(made.plan),
        "money": money_rows(made),
    }
