"""The use-case: a fleet and its price inputs in, the whole economics out.

`analyze_fleet` is what the CLI and the server call. It stays pure: GPU specs come through
`spec_of`, tokens per second through a `ThroughputModel`, prices as an already parsed
`EconInputs` (rigshift.econ.prices reads the files).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from rigshift.assess import Unlock
from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.econ.cards import (
    CardClass,
    CardEconomics,
    ThroughputModel,
    Verdict,
    economics_for,
    replica_rates,
)
from rigshift.econ.classes import UnassessedCards, card_classes, purchase_class
from rigshift.econ.demand import size_replicas
from rigshift.econ.formulas import DAYS_PER_MONTH
from rigshift.econ.inputs import EconInputs, Provenance
from rigshift.econ.plan import ConversionPlan, solve_plan
from rigshift.econ.sensitivity import (
    DEFAULT_DEMAND_FACTORS,
    DEFAULT_POWER_FACTORS,
    DEFAULT_TOKEN_FACTORS,
    Sensitivity,
    sweep,
)
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
    net_usd_day: float  # revenue − power − AI staff share
    staff_usd_day: float = 0.0


class FleetTotals(_Model):
    gpus: int
    by_use: tuple[UseTotals, ...]
    best_net_usd_day: float  # every card in its own best use
    best_net_usd_month: float


class Economics(_Model):
    fleet: str
    # The demand every figure assumes (all price classes, prompt + output tokens): printed on
    # every run, since revenue can never exceed what it buys.
    tokens_per_day: float
    requests_per_day: float
    inputs: EconInputs
    cards: tuple[CardEconomics, ...]
    purchasable: tuple[CardEconomics, ...]
    totals: FleetTotals
    plan: ConversionPlan
    sensitivity: Sensitivity | None
    defaults_used: tuple[Provenance, ...]
    notes: tuple[str, ...] = ()
    unassessed: tuple[UnassessedCards, ...] = ()  # GPUs the catalog does not know: counted, excluded
    # The assessment's fixes priced from these inputs, ranked by monthly gain per dollar
    # (econ/unlocks.py); empty without the assessment.
    unlocks: tuple[Unlock, ...] = ()
    value_per_ready_gpu_month: float | None = None  # what one more AI-ready GPU adds (unmet demand)


def fleet_totals(cards: Sequence[CardEconomics]) -> FleetTotals:
    by_use = []
    for use in ("mine", "rent", "infer"):
        results = [(c.card.count, c.use(use)) for c in cards]
        able = [(n, r) for n, r in results if r is not None and r.available]
        by_use.append(
            UseTotals(
                use=use,
                # Inference counts only the cards their rigs' hosts carry (rigshift.hosts); the
                # per-card figures are already averaged over the class, so the sums stay exact.
                gpus=sum(n if r.hosted_gpus is None else min(n, r.hosted_gpus) for n, r in able),
                revenue_usd_day=sum(n * r.revenue_usd_day for n, r in able),
                power_cost_usd_day=sum(n * r.power_cost_usd_day for n, r in able),
                net_usd_day=sum(n * r.net_usd_day for n, r in able),
                staff_usd_day=sum(n * r.staff_usd_day for n, r in able),
            )
        )
    best = 0.0
    for c in cards:
        chosen = c.use(c.best_use)
        best += c.card.count * (chosen.net_usd_day if chosen is not None else 0.0)
    return FleetTotals(
        gpus=sum(c.card.count for c in cards),
        by_use=tuple(by_use),
        best_net_usd_day=best,
        best_net_usd_month=best * DAYS_PER_MONTH,
    )


def site_power_budgets(fleet: Fleet, inputs: EconInputs) -> dict[str, float]:
    budgets = {s.name: s.power_budget_kw for s in fleet.sites if s.power_budget_kw is not None}
    budgets.update(inputs.constraints.site_power_kw)
    return budgets


def _scaled(
    classes: Sequence[CardClass],
    inputs: EconInputs,
    power_factor: float,
    token_factor: float,
    demand_factor: float = 1.0,
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
    demand = inputs.ai.demand if demand_factor == 1.0 else inputs.ai.demand.scaled(demand_factor)
    return scaled_classes, inputs.model_copy(
        update={"ai": inputs.ai.model_copy(update={"token_prices": prices, "demand": demand})}
    )


def plan_verdicts(plan: ConversionPlan) -> dict[str, Verdict]:
    """Per existing card class, what the plan does with most of its cards."""
    counts: dict[str, dict[Verdict, int]] = {}
    for a in plan.after:
        if not a.bought:
            by_use = counts.setdefault(a.card_id, {})
            by_use[a.use] = by_use.get(a.use, 0) + a.count
    return {card: max(uses, key=lambda u: uses[u]) for card, uses in counts.items()}


def analyze_fleet(
    fleet: Fleet,
    inputs: EconInputs,
    spec_of: Callable[[str], GpuSpec],
    throughput: ThroughputModel,
    *,
    power_factors: Sequence[float] = DEFAULT_POWER_FACTORS,
    token_factors: Sequence[float] = DEFAULT_TOKEN_FACTORS,
    demand_factors: Sequence[float] = DEFAULT_DEMAND_FACTORS,
    with_sensitivity: bool = True,
    viable_gpus: Mapping[str, int] | None = None,
) -> Economics:
    """Per card class, the fleet totals, the conversion plan and (optionally) its sensitivity.

    `viable_gpus` (card class id -> cards; the farm decision's, rigshift.decision) caps how many
    cards of each class may serve: those hostable today that meet the service level."""
    # A 100k-GPU fleet is millions of small objects: the cyclic GC would rescan all of them while
    # the card classes and the sweep's plans are built (1-4 s of a run), so it is paused, as
    # assess_fleet and demo_fleet do. Nothing built here holds a reference cycle.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _analyze(
            fleet,
            inputs,
            spec_of,
            throughput,
            power_factors=power_factors,
            token_factors=token_factors,
            demand_factors=demand_factors,
            with_sensitivity=with_sensitivity,
            viable_gpus=viable_gpus,
        )
    finally:
        if paused:
            gc.enable()


def _analyze(
    fleet: Fleet,
    inputs: EconInputs,
    spec_of: Callable[[str], GpuSpec],
    throughput: ThroughputModel,
    *,
    power_factors: Sequence[float],
    token_factors: Sequence[float],
    demand_factors: Sequence[float],
    with_sensitivity: bool,
    viable_gpus: Mapping[str, int] | None = None,
) -> Economics:
    if not fleet.gpu_count:
        raise InputError(Problem("the fleet has no GPUs", field="rigs[].gpus", expected="at least one GPU"))
    # Replicas sized for the workload (request mix, concurrency), once: the sweep keeps the shape.
    inputs = inputs.model_copy(update={"ai": size_replicas(inputs.ai)})
    unassessed: list[UnassessedCards] = []
    existing = card_classes(fleet, spec_of, inputs, unassessed)
    if viable_gpus is not None:
        existing = [c.model_copy(update={"viable_gpus": viable_gpus.get(c.id, 0)}) for c in existing]
    notes: list[str] = []
    if unassessed:
        notes.append(
            f"{sum(u.count for u in unassessed)} GPUs unassessed (not in the GPU catalog): counted, "
            "left out of every figure; see 'unassessed'"
        )
    if not existing:
        raise InputError(
            Problem(
                "no GPU of the fleet is in the GPU catalog: nothing to price",
                field="rigs[].gpus[].model",
                expected="catalog GPU names (rigshift catalog gpus)",
            )
        )
    budgets = site_power_budgets(fleet, inputs)
    sites = sorted({c.site for c in existing})
    buyable: list[CardClass] = []
    for key in sorted(inputs.capital.buy_usd):
        try:
            spec = spec_of(key)
        except RigshiftError as error:
            notes.append(f"cannot price purchases of {key!r}: {error}")
            continue
        buyable += [purchase_class(spec, site, fleet, inputs) for site in sites]

    # Replica speeds depend on the cards and the workload, not on prices or demand: ask once.
    rates = replica_rates([*existing, *buyable], spec_of, inputs, throughput)

    def run(
        power_factor: float, token_factor: float, demand_factor: float = 1.0
    ) -> tuple[list[CardEconomics], list[CardEconomics], ConversionPlan]:
        own, scaled_inputs = _scaled(existing, inputs, power_factor, token_factor, demand_factor)
        buy, _ = _scaled(buyable, inputs, power_factor, token_factor, demand_factor)
        cards = economics_for(own, spec_of, scaled_inputs, throughput, rates=rates)
        purchasable = economics_for(buy, spec_of, scaled_inputs, throughput, pool=own, rates=rates)
        return cards, purchasable, solve_plan(cards, purchasable, scaled_inputs, budgets)

    cards, purchasable, plan = run(1.0, 1.0)
    # The per-class "best" is the plan's verdict, so the table and the plan never disagree.
    verdicts = plan_verdicts(plan)
    cards = [c.model_copy(update={"best_use": verdicts.get(c.card.id, c.best_use)}) for c in cards]
    sensitivity = None
    if with_sensitivity:
        total = sum(c.count for c in existing)
        mean_price = sum(c.count * c.usd_per_kwh for c in existing) / total

        def cell(pf: float, tf: float, df: float) -> tuple[ConversionPlan, float]:
            if pf == 1.0 and tf == 1.0 and df == 1.0:
                return plan, mean_price
            return run(pf, tf, df)[2], mean_price * pf

        sensitivity = sweep(cell, power_factors, token_factors, demand_factors)
    requests = sum(inputs.ai.demand.requests_per_day(p.name) for p in inputs.ai.token_prices)
    return Economics(
        fleet=fleet.name,
        tokens_per_day=requests * inputs.ai.tokens_per_request,
        requests_per_day=requests,
        inputs=inputs,
        cards=tuple(cards),
        purchasable=tuple(purchasable),
        totals=fleet_totals(cards),
        plan=plan,
        sensitivity=sensitivity,
        defaults_used=tuple(p for p in inputs.provenance if p.is_default),
        notes=tuple(notes),
        unassessed=tuple(unassessed),
    )
