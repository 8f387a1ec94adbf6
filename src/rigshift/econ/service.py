"""Wiring for the CLI and the server: real catalog, estimator and assessment; a prices file or the defaults."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from rigshift.assess.unlocks import reprice_unlocks
from rigshift.decision.compute import decide
from rigshift.econ.analysis import Economics, analyze_fleet
from rigshift.econ.assessed import assessed_throughput
from rigshift.econ.cards import ThroughputModel
from rigshift.econ.prices import load_inputs
from rigshift.econ.prices.demand import read_demand
from rigshift.econ.sensitivity import DEFAULT_POWER_FACTORS, DEFAULT_TOKEN_FACTORS
from rigshift.econ.throughput import EstimatorThroughput
from rigshift.econ.unlocks import TIER_UP_SHARE, value_of_ready_gpu
from rigshift.fleet.model import Fleet
from rigshift.toolkit import Toolkit, default_toolkit


def fleet_economics(
    fleet: Fleet,
    prices: Path | None = None,
    *,
    capex_budget_usd: float | None = None,
    with_sensitivity: bool = True,
    use_assessment: bool = True,
    throughput: ThroughputModel | None = None,
    tools: Toolkit | None = None,
    demand: Path | None = None,
    usage_days: float = 1.0,
    power_factors: Sequence[float] = DEFAULT_POWER_FACTORS,
    token_factors: Sequence[float] = DEFAULT_TOKEN_FACTORS,
    as_of: date | None = None,
) -> Economics:
    """`rigshift econ` as a function: the prices file (or the defaults) applied to `fleet`.

    With `use_assessment` a card earns from a model class only where the assessment finds it
    serves that class to its criteria; without, wherever the estimator says the model fits.
    `demand` (a demand file, a plan's demand file or a usage export over `usage_days` days)
    replaces the demand of the prices file and the defaults.
    `power_factors` × `token_factors` is the sensitivity grid (the console's what-if asks for one cell).
    `as_of` (default today): the day coin block rewards are taken at, by each chain's schedule.
    """
    inputs = load_inputs(prices, as_of=as_of)
    if demand is not None:
        given = read_demand(demand, inputs.ai.token_prices, inputs.ai.tokens_per_request, usage_days)
        inputs = load_inputs(prices, demand=given, as_of=as_of)
    tools = tools or default_toolkit()  # one toolkit: the assessment's estimates serve the economics
    if capex_budget_usd is not None:
        inputs = inputs.model_copy(
            update={
                "constraints": inputs.constraints.model_copy(update={"capex_budget_usd": capex_budget_usd})
            }
        )
    assessment = None
    viable = None
    if throughput is None:
        estimator = EstimatorThroughput(tools)
        if use_assessment:
            # The farm decision's economics (docs/decision.md): its assessment, and each card class
            # capped at the cards hostable today that meet the service level.
            made = decide(fleet, inputs, tools, with_sensitivity=with_sensitivity)
            defaults = (tuple(power_factors), tuple(token_factors)) == (
                DEFAULT_POWER_FACTORS,
                DEFAULT_TOKEN_FACTORS,
            )
            if defaults and made.economics is not None:
                return made.economics
            assessment, viable = made.assessment, made.viable_by_class
            throughput = assessed_throughput(fleet, inputs, estimator, assessment=assessment)
        else:
            throughput = estimator
    economics = analyze_fleet(
        fleet,
        inputs,
        tools.gpu_spec,
        throughput,
        power_factors=power_factors,
        token_factors=token_factors,
        with_sensitivity=with_sensitivity,
        viable_gpus=viable,
    )
    if assessment is None:
        return economics
    value = value_of_ready_gpu(economics.plan, inputs)
    unlocks = reprice_unlocks(assessment.summary.unlocks, value, value * TIER_UP_SHARE)
    return economics.model_copy(update={"unlocks": tuple(unlocks), "value_per_ready_gpu_month": value})
