"""The decision for the CLI and the server: files and the measurements database read here, then the
pure `decide` (compute.py). Every command that prints a `decision` comes through `decision_for`, so
the same fleet, prices, demand and measurements give the same decision in each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from rigshift.assess import ReadinessCriteria
from rigshift.decision.compute import DEFAULT_MAX_TTFT_S, FarmDecision, decide
from rigshift.decision.digest import inputs_digest
from rigshift.decision.views import with_decision, without_decision
from rigshift.econ.inputs import EconInputs
from rigshift.econ.prices import load_inputs
from rigshift.econ.prices.demand import read_demand
from rigshift.fleet.model import Fleet
from rigshift.plan import Demand, load_demand
from rigshift.toolkit import Toolkit, default_toolkit

__all__ = [
    "DecisionFiles",
    "decide_with",
    "decision_for",
    "econ_inputs",
    "measurements_label",
    "plan_demand_of",
    "read_decision_files",
    "with_decision",
    "without_decision",
]


def econ_inputs(
    prices: Path | None,
    demand: Path | None = None,
    usage_days: float = 1.0,
    budget: float | None = None,
    as_of: date | None = None,
) -> EconInputs:
    """The prices file (or the defaults) with `--demand` and `--budget` applied, as econ reads them;
    coin rewards at `as_of` (default today) by each chain's emission schedule."""
    inputs = load_inputs(prices, as_of=as_of)
    if demand is not None:
        given = read_demand(demand, inputs.ai.token_prices, inputs.ai.tokens_per_request, usage_days)
        inputs = load_inputs(prices, demand=given, as_of=as_of)
    if budget is not None:
        inputs = inputs.model_copy(
            update={"constraints": inputs.constraints.model_copy(update={"capex_budget_usd": budget})}
        )
    return inputs


def plan_demand_of(demand: Path | None) -> Demand | None:
    """A plan's demand file (`deployments:`) is placed as written; other demand files are volumes."""
    if demand is None or demand.suffix.lower() not in (".yaml", ".yml", ".json"):
        return None
    try:
        text = demand.read_text(encoding="utf-8")
    except OSError:
        return None
    if "deployments" not in text:
        return None
    return load_demand(demand)


def measurements_label(tools: Toolkit) -> str:
    """The measurements a toolkit is calibrated with (the database's and the fleet file's, as one
    set), named by count and digest: the CLI and the server name the same rows the same way."""
    rows: Sequence[object] = getattr(tools.calibration, "rows", ()) or ()
    if not rows:
        return "none"
    digest = inputs_digest({"rows": [repr(r) for r in rows]})
    return f"{len(rows)} calibration rows ({digest[:19]})"


@dataclass(frozen=True)
class DecisionFiles:
    """What `--prices` and `--demand` give a decision beside the fleet, read once: the CLI per run,
    the server at its start (`rigshift server --prices --demand`), so both decide on the same."""

    inputs: EconInputs
    plan_demand: Demand | None  # a plan's demand file, placed as written
    prices: Path | None = None
    demand: Path | None = None

    @property
    def prices_source(self) -> str:
        return str(self.prices) if self.prices is not None else "defaults"


def read_decision_files(
    prices: Path | None = None,
    demand: Path | None = None,
    usage_days: float = 1.0,
    budget: float | None = None,
    as_of: date | None = None,
) -> DecisionFiles:
    """The prices and demand files as the decision reads them (InputError on a bad file)."""
    return DecisionFiles(
        econ_inputs(prices, demand, usage_days, budget, as_of), plan_demand_of(demand), prices, demand
    )


def decide_with(fleet: Fleet, tools: Toolkit, files: DecisionFiles, **options: Any) -> FarmDecision:
    """The decision on these files with this toolkit: the one call the CLI and the server make.
    `options`: `decide`'s own (`criteria`, `max_ttft_s`, `with_sensitivity`)."""
    return decide(
        fleet,
        files.inputs,
        tools,
        plan_demand=files.plan_demand,
        measurements=measurements_label(tools),
        prices_source=files.prices_source,
        **options,
    )


def decision_for(
    fleet: Fleet,
    *,
    prices: Path | None = None,
    demand: Path | None = None,
    usage_days: float = 1.0,
    budget: float | None = None,
    db: str | None = None,
    use_measurements: bool = True,
    criteria: ReadinessCriteria | None = None,
    max_ttft_s: float = DEFAULT_MAX_TTFT_S,
    with_sensitivity: bool = False,
    as_of: date | None = None,
) -> tuple[FarmDecision, Toolkit]:
    """The decision for these files, and the toolkit it was computed with."""
    from rigshift.measure.calibrate import _database_rows, toolkit_of

    tools = toolkit_of(_database_rows(db), fleet) if use_measurements else default_toolkit()
    files = read_decision_files(prices, demand, usage_days, budget, as_of)
    made = decide_with(
        fleet, tools, files, criteria=criteria, max_ttft_s=max_ttft_s, with_sensitivity=with_sensitivity
    )
    return made, tools
