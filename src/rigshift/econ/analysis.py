"""The use-case: a fleet and its price inputs in, the whole economics out.

`analyze_fleet` is what the CLI and the server call. It stays pure: GPU specs come through
`spec_of`, tokens per second through a `ThroughputModel`, prices as an already parsed
`EconInputs` (rigshift.econ.prices reads the files).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.econ.cards import CardClass, CardEconomics, ThroughputModel, UseResult, economics_for
from rigshift.econ.classes import card_classes, purchase_class
from rigshift.econ.formulas import DAYS_PER_MONTH
from rigshift.econ.inputs import EconInputs, Provenance
from rigshift.econ.plan import ConversionPlan, solve_plan
from rigshift.econ.sensitivity import DEFAULT_POWER_FACTORS, DEFAULT_TOKEN_FACTORS, Sensitivity, sweep
from rigshift.errors import InputError, Problem, RigshiftError
from rigshift.fleet.model import Fleet


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UseTotals(_Model):
    """Fleet-wide $/day if every card did this one use (cards that cannot count as 0)."""

    use: str
    gpus: int  # cards that can
    revenue_usd_day: float
    power_cost_usd_day: float
    net_usd_day: float


class FleetTotals(_Model):
    gpus: int
    by_use: tuple[UseTotals, ...]
    best_net_usd_day: float  # every card in its own best use
    best_net_usd_month: float


class Economics(_Model):
    fleet: str
    inputs: EconInputs
    cards: tuple[CardEconomics, ...]
    purchasable: tuple[CardEconomics, ...]
    totals: FleetTotals
    plan: ConversionPlan
    sensitivity: Sensitivity | None
    defaults_used: tuple[Provenance, ...]
    notes: tuple[str, ...] = ()


def fleet_totals(cards: Sequence[CardEconomics]) -> FleetTotals:
    by_use = []
    for use in ("mine", "rent", "infer"):
        results = [(_takers(c.card.count, c.use(use)), c.use(use)) for c in cards]
        able = [(n, r) for n, r in results if r is not None and r.available]
        by_use.append(
            UseTotals(
                use=use,
                gpus=sum(n for n, _ in able),
                revenue_usd_day=sum(n * r.revenue_usd_day for n, r in able),
                power_cost_usd_day=sum(n * r.power_cost_usd_day for n, r in able),
                net_usd_day=sum(n * r.net_usd_day for n, r in able),
            )
        )
    best = 0.0
    for c in cards:
        chosen = c.use(c.best_use)
        best += _takers(c.card.count, chosen) * (chosen.net_usd_day if chosen is not None else 0.0)
    return FleetTotals(
        gpus=sum(c.card.count for c in cards),
        by_use=tuple(by_use),
        best_net_usd_day=best,
        best_net_usd_month=best * DAYS_PER_MONTH,
    )


def _takers(count: int, result: UseResult | None) -> int:
    """Cards of a class that can take a use: all, or as many as the rigs' hosts carry."""
    if result is None or result.max_gpus is None:
        return count
    return min(count, result.max_gpus)


def site_power_budgets(fleet: Fleet, inputs: EconInputs) -> dict[str, float]:
    budgets = {s.name: s.power_budget_kw for s in fleet.sites if s.power_budget_kw is not None}
    budgets.update(inputs.constraints.site_power_kw)
    return budgets


def _scaled(
    classes: Sequence[CardClass], inputs: EconInputs, power_factor: float, token_factor: float
) -> tuple[list[CardClass], EconInputs]:
    scaled_classes = [
        c.model_copy(
            update={
                "usd_per_kwh": c.usd_per_kwh * power_factor,
                "price_curve": tuple((p * power_factor, share) for p, share in c.price_curve),
            }
        )
        for c in classes
    ]
    prices = tuple(
        p.model_copy(
            update={
                "usd_per_m_input": p.usd_per_m_input * token_factor,
                "usd_per_m_output": p.usd_per_m_output * token_factor,
            }
        )
        for p in inputs.ai.token_prices
    )
    return scaled_classes, inputs.model_copy(
        update={"ai": inputs.ai.model_copy(update={"token_prices": prices})}
    )


def analyze_fleet(
    fleet: Fleet,
    inputs: EconInputs,
    spec_of: Callable[[str], GpuSpec],
    throughput: ThroughputModel,
    *,
    power_factors: Sequence[float] = DEFAULT_POWER_FACTORS,
    token_factors: Sequence[float] = DEFAULT_TOKEN_FACTORS,
    with_sensitivity: bool = True,
) -> Economics:
    """Per card class, the fleet totals, the conversion plan and (optionally) its sensitivity."""
    if not fleet.gpu_count:
        raise InputError(Problem("the fleet has no GPUs", field="rigs[].gpus", expected="at least one GPU"))
    existing = card_classes(fleet, spec_of, inputs)
    budgets = site_power_budgets(fleet, inputs)
    sites = sorted({c.site for c in existing})
    notes: list[str] = []
    buyable: list[CardClass] = []
    for key in sorted(inputs.capital.buy_usd):
        try:
            spec = spec_of(key)
        except RigshiftError as error:
            notes.append(f"cannot price purchases of {key!r}: {error}")
            continue
        buyable += [purchase_class(spec, site, fleet, inputs) for site in sites]

    def run(
        power_factor: float, token_factor: float
    ) -> tuple[list[CardEconomics], list[CardEconomics], ConversionPlan]:
        own, scaled_inputs = _scaled(existing, inputs, power_factor, token_factor)
        buy, _ = _scaled(buyable, inputs, power_factor, token_factor)
        cards = economics_for(own, spec_of, scaled_inputs, throughput)
        purchasable = economics_for(buy, spec_of, scaled_inputs, throughput)
        return cards, purchasable, solve_plan(cards, purchasable, scaled_inputs, budgets)

    cards, purchasable, plan = run(1.0, 1.0)
    sensitivity = None
    if with_sensitivity:
        total = sum(c.count for c in existing)
        mean_price = sum(c.count * c.usd_per_kwh for c in existing) / total

        def cell(pf: float, tf: float) -> tuple[ConversionPlan, float]:
            if pf == 1.0 and tf == 1.0:
                return plan, mean_price
            return run(pf, tf)[2], mean_price * pf

        sensitivity = sweep(cell, power_factors, token_factors)
    return Economics(
        fleet=fleet.name,
        inputs=inputs,
        cards=tuple(cards),
        purchasable=tuple(purchasable),
        totals=fleet_totals(cards),
        plan=plan,
        sensitivity=sensitivity,
        defaults_used=tuple(p for p in inputs.provenance if p.is_default),
        notes=tuple(notes),
    )


def per_class(economics: Economics) -> Mapping[str, CardEconomics]:
    return {c.card.id: c for c in economics.cards}
