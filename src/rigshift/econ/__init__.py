"""Economics: what each card class earns mining, rented out and selling tokens; what to do about it.

Public entry points:
- `analyze_fleet(fleet, inputs, spec_of, throughput) -> Economics`: the pure computation the CLI
  and the server call (per card class, fleet totals, conversion plan, sensitivity).
- `rigshift.econ.prices.load_inputs(path)`: a prices file merged over the shipped defaults.
- `EstimatorThroughput`: tokens/s from rigshift's estimator, cached.
- `DemandInputs` / `ClassDemand`: what there is to sell (token revenue never exceeds it);
  `rigshift.econ.prices.demand.read_demand(path, ...)` reads one from a demand file, a plan's
  demand file or a usage export.
Formulas are written out in docs/economics.md.
"""

from rigshift.econ.analysis import Economics, FleetTotals, UseTotals, analyze_fleet
from rigshift.econ.cards import CardClass, CardEconomics, InferenceRate, ThroughputModel, UseResult
from rigshift.econ.classes import UnassessedCards
from rigshift.econ.inputs import ClassDemand, DemandInputs, EconInputs
from rigshift.econ.plan import Allocation, ClassService, ConversionPlan, PlanStep
from rigshift.econ.sensitivity import Sensitivity, SensitivityCell
from rigshift.econ.throughput import EstimatorThroughput

__all__ = [
    "Allocation",
    "CardClass",
    "CardEconomics",
    "ClassDemand",
    "ClassService",
    "ConversionPlan",
    "DemandInputs",
    "EconInputs",
    "Economics",
    "EstimatorThroughput",
    "FleetTotals",
    "InferenceRate",
    "PlanStep",
    "Sensitivity",
    "SensitivityCell",
    "ThroughputModel",
    "UnassessedCards",
    "UseResult",
    "UseTotals",
    "analyze_fleet",
]
