"""How the plan changes with the power price and the token price.

Each cell of the grid re-runs the whole computation (card economics and the plan) with every
site's power price and every token price scaled by a factor; the estimator's answers do not
change with prices, so they come from the throughput cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict

from rigshift.econ.plan import ConversionPlan

DEFAULT_POWER_FACTORS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
# Down to a tenth: open-weight token prices have fallen that far within a year.
DEFAULT_TOKEN_FACTORS = (0.1, 0.25, 0.5, 1.0, 2.0)
# Demand scales how busy the replicas are: across utilisation, at today's power and token prices.
DEFAULT_DEMAND_FACTORS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SensitivityCell(_Model):
    power_factor: float
    token_factor: float
    usd_per_kwh: float  # the fleet's GPU-weighted mean power price at this factor
    monthly_revenue_usd: float
    monthly_net_usd: float
    monthly_net_before_usd: float  # the baseline (every card mining) at the same prices
    net_capex_usd: float
    gpus_by_use: dict[str, int]  # mine / rent / infer / off / sell / bought
    plan_summary: str
    demand_factor: float = 1.0
    requests_per_day: float = 0.0  # demand at this factor
    served_requests_per_day: float = 0.0
    utilisation: float | None = None  # of the cards serving tokens after the plan


class Sensitivity(_Model):
    power_factors: tuple[float, ...]
    token_factors: tuple[float, ...]
    cells: tuple[SensitivityCell, ...]  # power x token grid at today's demand
    demand_factors: tuple[float, ...] = ()
    demand_cells: tuple[SensitivityCell, ...] = ()  # demand sweep at today's power and token prices

    def cell(self, power_factor: float, token_factor: float) -> SensitivityCell:
        return next(
            c for c in self.cells if c.power_factor == power_factor and c.token_factor == token_factor
        )


def summarise(plan: ConversionPlan) -> tuple[dict[str, int], str]:
    counts: dict[str, int] = {}
    for a in plan.after:
        name = "bought" if a.bought else a.use
        counts[name] = counts.get(name, 0) + a.count
    for a in plan.after:
        if a.bought:
            counts[f"bought:{a.use}"] = counts.get(f"bought:{a.use}", 0) + a.count
    order = ("mine", "rent", "infer", "off", "sell", "bought")
    text = ", ".join(f"{counts[k]} {k}" for k in order if counts.get(k))
    return counts, text


def _cell(plan: ConversionPlan, price: float, pf: float, tf: float, df: float) -> SensitivityCell:
    counts, text = summarise(plan)
    served = sum(s.served_requests_per_day for s in plan.service)
    capacity = sum(s.served_requests_per_day / s.utilisation for s in plan.service if s.utilisation)
    return SensitivityCell(
        power_factor=pf,
        token_factor=tf,
        demand_factor=df,
        usd_per_kwh=price,
        monthly_revenue_usd=plan.monthly_revenue_after_usd,
        monthly_net_usd=plan.monthly_net_after_usd,
        monthly_net_before_usd=plan.monthly_net_before_usd,
        net_capex_usd=plan.net_capex_usd,
        gpus_by_use=counts,
        plan_summary=text,
        requests_per_day=sum(s.requests_per_day for s in plan.service),
        served_requests_per_day=served,
        utilisation=served / capacity if capacity > 0 else None,
    )


def sweep(
    run: Callable[[float, float, float], tuple[ConversionPlan, float]],
    power_factors: Sequence[float] = DEFAULT_POWER_FACTORS,
    token_factors: Sequence[float] = DEFAULT_TOKEN_FACTORS,
    demand_factors: Sequence[float] = DEFAULT_DEMAND_FACTORS,
) -> Sensitivity:
    """`run(power_factor, token_factor, demand_factor)` returns the plan and the mean power price it used."""
    cells = []
    for tf in token_factors:
        for pf in power_factors:
            plan, price = run(pf, tf, 1.0)
            cells.append(_cell(plan, price, pf, tf, 1.0))
    demand_cells = []
    for df in demand_factors:
        plan, price = run(1.0, 1.0, df)
        demand_cells.append(_cell(plan, price, 1.0, 1.0, df))
    return Sensitivity(
        power_factors=tuple(power_factors),
        token_factors=tuple(token_factors),
        cells=tuple(cells),
        demand_factors=tuple(demand_factors),
        demand_cells=tuple(demand_cells),
    )
