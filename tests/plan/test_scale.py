"""The benchmark's claim at a size CI affords: near the bound, and every GPU used at most once.

The MILP runs under a time limit, so two runs may stop at different incumbents: what holds every
time is feasibility and the distance to the proven bound, not the exact plan (the small, untimed
case of "same input, same plan" is in test_planner.py). Its speed is bench/plan_scale.py's.
"""

from collections import Counter

import pytest

from plan_demo import demo_demand  # tests/plan_demo.py (tests/ is on pytest's pythonpath)
from rigshift.fleet.demo import demo_fleet
from rigshift.plan import plan_placement


@pytest.mark.slow
def test_demo_farm_plan_is_within_two_percent_of_the_bound_and_feasible():
    fleet = demo_fleet(seed=1, scale=3000)
    demand = demo_demand(24, 3000, seed=1)
    options = demand.plan_options().model_copy(update={"time_limit_s": 20})
    plan = plan_placement(fleet, demand, options=options)
    assert plan.bound is not None and plan.objective >= 0.98 * plan.bound
    assert plan.replicas and not any(r.cross_rig for r in plan.replicas)
    # Feasible on the real fleet: each GPU holds at most one group, and only GPUs the fleet has.
    uses: Counter[tuple[str, int]] = Counter()
    for r in plan.replicas:
        for g in r.gpus:
            uses[(g.rig, g.position)] += 1 / r.shared_gpu
    gpus = {(rig.name, position) for rig in fleet.rigs for position in range(len(rig.gpus))}
    assert set(uses) <= gpus and all(n <= 1 + 1e-9 for n in uses.values())
    assert len({r.id for r in plan.replicas}) == len(plan.replicas)


@pytest.mark.slow
def test_the_summary_of_a_10000_gpu_plan_fits_one_screen():
    import io
    from pathlib import Path

    from rich.console import Console

    from rigshift.plan import load_demand
    from rigshift.plan.report import render_summary

    fleet = demo_fleet(scale=10_000)
    demand = load_demand(Path(__file__).resolve().parents[2] / "examples/demand/chat-and-rag.yaml")
    options = demand.plan_options().model_copy(update={"time_limit_s": 4})
    plan = plan_placement(fleet, demand, options=options)
    assert len(plan.replicas) > 100
    for width in (80, 120):
        console = Console(width=width, record=True, file=io.StringIO())
        console.print(render_summary(plan, width))
        lines = console.export_text().splitlines()
        assert len(lines) <= 40 and all(len(line) <= width for line in lines), "\n".join(lines)
