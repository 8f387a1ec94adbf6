"""Placement: which replica runs on which GPUs, at which power cap, and why the rest could not.

Public API: `plan_placement(fleet, demand, current=None, options=None) -> Plan`, `load_demand`,
and the data types.
"""

from typing import TYPE_CHECKING, Any

from rigshift.plan.demand import Demand, Deployment, load_demand, parse_demand
from rigshift.plan.types import Move, Plan, PlannedGpu, PlannedReplica, PlanOptions, Rejection, Unplaced

if TYPE_CHECKING:
    from rigshift.plan.planner import plan_placement


def __getattr__(name: str) -> Any:
    # The planner (HiGHS, numpy) loads on first use, so reading a demand or a plan file, and
    # `rigshift plan --help`, start without the solver.
    if name == "plan_placement":
        from rigshift.plan.planner import plan_placement

        return plan_placement
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Demand",
    "Deployment",
    "Move",
    "Plan",
    "PlanOptions",
    "PlannedGpu",
    "PlannedReplica",
    "Rejection",
    "Unplaced",
    "load_demand",
    "parse_demand",
    "plan_placement",
]
