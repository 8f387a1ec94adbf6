"""Wiring for the CLI and the server: real catalog, real estimator, a prices file or the defaults."""

from __future__ import annotations

from pathlib import Path

from rigshift.catalog.gpus import gpu_catalog
from rigshift.econ.analysis import Economics, analyze_fleet
from rigshift.econ.cards import ThroughputModel
from rigshift.econ.prices import load_inputs
from rigshift.econ.throughput import EstimatorThroughput
from rigshift.fleet.model import Fleet


def fleet_economics(
    fleet: Fleet,
    prices: Path | None = None,
    *,
    capex_budget_usd: float | None = None,
    with_sensitivity: bool = True,
    throughput: ThroughputModel | None = None,
) -> Economics:
    """`rigshift econ` as a function: the prices file (or the defaults) applied to `fleet`."""
    inputs = load_inputs(prices)
    if capex_budget_usd is not None:
        inputs = inputs.model_copy(
            update={
                "constraints": inputs.constraints.model_copy(update={"capex_budget_usd": capex_budget_usd})
            }
        )
    return analyze_fleet(
        fleet,
        inputs,
        gpu_catalog().get,
        throughput or EstimatorThroughput(),
        with_sensitivity=with_sensitivity,
    )
