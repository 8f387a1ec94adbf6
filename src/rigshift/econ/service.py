"""Wiring for the CLI and the server: real catalog, estimator and assessment; a prices file or the defaults."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rigshift.assess import ReadinessCriteria, assess_fleet
from rigshift.assess.tools import default_tools
from rigshift.catalog.gpus import gpu_catalog
from rigshift.econ.analysis import Economics, analyze_fleet
from rigshift.econ.assessed import AssessedThroughput, assessment_class, served_classes
from rigshift.econ.cards import ThroughputModel
from rigshift.econ.inputs import EconInputs
from rigshift.econ.prices import load_inputs
from rigshift.econ.throughput import EstimatorThroughput
from rigshift.estimate import Estimate, Hardware, Workload, estimate
from rigshift.fleet.model import Fleet


def assessed_throughput(
    fleet: Fleet,
    inputs: EconInputs,
    estimator: EstimatorThroughput,
    criteria: ReadinessCriteria | None = None,
) -> AssessedThroughput:
    """The estimator's speeds, limited to the model classes the assessment says each card serves."""
    criteria = criteria or ReadinessCriteria()
    class_of = {
        p.name: assessment_class(p.model, estimator.model(p.model).params_b, criteria)
        for p in inputs.ai.token_prices
    }
    assessment = assess_fleet(fleet, criteria, default_tools(estimator.estimator))
    return AssessedThroughput(estimator, served_classes(assessment, fleet), class_of)


def fleet_economics(
    fleet: Fleet,
    prices: Path | None = None,
    *,
    capex_budget_usd: float | None = None,
    with_sensitivity: bool = True,
    use_assessment: bool = True,
    throughput: ThroughputModel | None = None,
    estimator: Callable[[Workload, Hardware], Estimate] | None = None,
) -> Economics:
    """`rigshift econ` as a function: the prices file (or the defaults) applied to `fleet`.

    With `use_assessment` a card earns from a model class only where the assessment finds it
    serves that class to its criteria; without, wherever the estimator says the model fits.
    """
    inputs = load_inputs(prices)
    if capex_budget_usd is not None:
        inputs = inputs.model_copy(
            update={
                "constraints": inputs.constraints.model_copy(update={"capex_budget_usd": capex_budget_usd})
            }
        )
    if throughput is None:
        rates = EstimatorThroughput(estimator or estimate)
        throughput = assessed_throughput(fleet, inputs, rates) if use_assessment else rates
    return analyze_fleet(fleet, inputs, gpu_catalog().get, throughput, with_sensitivity=with_sensitivity)
