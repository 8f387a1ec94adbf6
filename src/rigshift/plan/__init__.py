"""Placement: which replica runs on which GPUs, at which power cap, and why the rest could not.

Public API: `plan_placement(fleet, demand, current=None, options=None) -> Plan`, `load_demand`,
and the data types.
"""

from rigshift.plan.demand import Demand, Deployment, load_demand, parse_demand
from rigshift.plan.planner import plan_placement
from rigshift.plan.types import Move, Plan, PlannedGpu, PlannedReplica, PlanOptions, Rejection, Unplaced

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
