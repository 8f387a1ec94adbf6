"""The benchmark's claim at a size CI affords: near the bound, deterministic, quick."""

import time

import pytest

from plan_demo import demo_demand  # tests/plan_demo.py (tests/ is on pytest's pythonpath)
from rigshift.fleet.demo import demo_fleet
from rigshift.plan import plan_placement


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
