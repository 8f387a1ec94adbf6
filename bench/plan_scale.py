"""Placement at farm scale: rigshift's planner against a plain greedy binpack (GPUStack's policy).

    python bench/plan_scale.py                 # 10,000 GPUs, 40 deployments
    python bench/plan_scale.py --gpus 100000   # the large case
    python bench/plan_scale.py --gpus 2000 --deployments 20 --seed 3

Prints, for the same fleet and demand: fleet/candidate sizes, the planner's wall time, its
objective, the solver's bound and the gap, and the binpack baseline's objective side by side.
The fleet is `rigshift.fleet.demo.demo_fleet(scale=N)`; the demand is
`demo_demand` of tests/plan_demo.py, drawn from the model catalog, deterministic in the seed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rigshift.fleet.demo import demo_fleet
from rigshift.plan import plan_placement
from rigshift.plan.assign import binpack_baseline
from rigshift.plan.candidates import build_candidates
from rigshift.plan.milp import evaluate
from rigshift.toolkit import default_toolkit

# The demo demand is test-and-bench data, kept out of the package (tests/plan_demo.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from plan_demo import demo_demand


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gpus", type=int, default=10_000)
    parser.add_argument("--deployments", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=None)
    args = parser.parse_args()

    t0 = time.perf_counter()
    fleet = demo_fleet(seed=args.seed, scale=args.gpus)
    demand = demo_demand(args.deployments, args.gpus, args.seed)
    t_fleet = time.perf_counter() - t0
    options = demand.plan_options()
    # The demo's site budgets (900 + 600 kW) fit a farm of about 10,000 GPUs; scale them with the
    # fleet so that every size has a budget that binds without starving the farm.
    factor = max(1.0, args.gpus / 10_000)
    options = options.model_copy(
        update={"site_power_kw": {s.name: (s.power_budget_kw or 0.0) * factor for s in fleet.sites}}
    )
    if args.time_limit is not None:
        options = options.model_copy(update={"time_limit_s": args.time_limit})

    t0 = time.perf_counter()
    plan = plan_placement(fleet, demand, options=options, tools=default_toolkit())
    t_plan = time.perf_counter() - t0

    t0 = time.perf_counter()
    cands = build_candidates(fleet, demand, options, default_toolkit())
    t_cands = time.perf_counter() - t0
    t0 = time.perf_counter()
    counts, _ = binpack_baseline(cands)
    t_base = time.perf_counter() - t0 + t_cands
    baseline, baseline_net = evaluate(cands, counts), evaluate(cands, counts, penalty=0.0)
    short = sum(u.replicas for u in plan.unplaced)
    plan_net = plan.revenue_usd_per_h - plan.power_cost_usd_per_h

    print(
        f"fleet: {fleet.gpu_count:,} GPUs on {len(fleet.rigs):,} rigs, {len(fleet.sites)} sites "
        f"(built in {t_fleet:.2f} s); {len(demand.deployments)} deployments"
    )
    print(f"candidates: {len(cands.pools)} pools, {len(cands.configs):,} configurations ({t_cands:.2f} s)")
    ratio = plan.objective / plan.bound if plan.bound else float("nan")
    print(
        f"planner:  {t_plan:6.2f} s  objective {plan.objective:10.2f}  bound {plan.bound}  "
        f"objective/bound {ratio:.4f}  [{plan.solver}; {plan.solver_status}]"
    )
    print(
        f"          {len(plan.replicas):,} replicas; replicas short of minimums: {short}; "
        f"$/h revenue - power: {plan_net:.2f}"
    )
    print(
        f"binpack:  {t_base:6.2f} s  objective {baseline:10.2f}  (GPUStack policy: first GPU that fits, "
        f"fullest first; {sum(counts.values()):,} groups); value without penalties {baseline_net:.2f}"
    )
    print(f"objective, planner vs binpack: {plan.objective:.2f} vs {baseline:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
