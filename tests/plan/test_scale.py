"""The benchmark's claim at a size CI affords: near the bound, deterministic, quick."""

import time

import pytest

from rigshift.fleet.demo import demo_fleet
from rigshift.plan import plan_placement
from rigshift.plan.demo import demo_demand


@pytest.mark.slow
def test_demo_farm_plan_is_within_two_percent_of_the_bound_and_repeatable():
    fleet = demo_fleet(seed=1, scale=3000)
    demand = demo_demand(24, 3000, seed=1)
    options = demand.plan_options().model_copy(update={"time_limit_s": 20})
    started = time.perf_counter()
    first = plan_placement(fleet, demand, options=options)
    assert time.perf_counter() - started < 30
    assert first.bound is not None and first.objective >= 0.98 * first.bound
    assert first.replicas and not any(r.cross_rig for r in first.replicas)
    second = plan_placement(fleet, demand, options=options)
    assert [r.id for r in first.replicas] == [r.id for r in second.replicas]
