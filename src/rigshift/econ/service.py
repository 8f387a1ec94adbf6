"""Wiring for the CLI and the server: real catalog, estimator and assessment; a prices file or the defaults."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from rigshift.assess import FleetAssessment, ReadinessCriteria, assess_fleet
from rigshift.assess.unlocks import reprice_unlocks
from rigshift.econ.analysis import Economics, analyze_fleet
from rigshift.econ.assessed import AssessedThroughput, assessment_class, served_classes
from rigshift.econ.cards import ThroughputModel
from rigshift.econ.inputs import EconInputs
from rigshift.econ.prices import load_inputs
from rigshift.econ.prices.demand import read_demand
from rigshift.econ.sensitivity import DEFAULT_POWER_FACTORS, DEFAULT_TOKEN_FACTORS
from rigshift.econ.throughput import EstimatorThroughput
from rigshift.econ.unlocks import TIER_UP_SHARE, unlock_costs, value_of_ready_gpu
from rigshift.fleet.model import Fleet
from rigshift.toolkit import Toolkit, default_toolkit


def assessed_throughput(
    fleet: Fleet,
    inputs: EconInputs,
    estimator: EstimatorThroughput,
    criteria: ReadinessCriteria | None = None,
    assessment: FleetAssessment | None = None,
) -> AssessedThroughput:
    """The estimator's speeds, limited to the model classes the assessment says each card serves."""
    criteria = criteria or ReadinessCriteria()
    assessment = assessment or assess_fleet(fleet, criteria, estimator.tools)
    class_of = {
        p.name: assessment_class(p.model, estimator.model(p.model).params_b, criteria)
        for p in inputs.ai.token_prices
    }
    return AssessedThroughput(estimator, served_classes(assessment, fleet), class_of)


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
    if throughput is None:
        estimator = EstimatorThroughput(tools)
        if use_assessment:
            assessment = assess_fleet(fleet, ReadinessCriteria(), tools, unlock_costs=unlock_costs(inputs))
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
    )
    if assessment is None:
        return economics
    value = value_of_ready_gpu(economics.plan, inputs)
    unlocks = reprice_unlocks(assessment.summary.unlocks, value, value * TIER_UP_SHARE)
    return economics.model_copy(update={"unlocks": tuple(unlocks), "value_per_ready_gpu_month": value})
