"""Placement at farm scale: rigshift's planner against a plain greedy binpack (GPUStack's policy).

    python bench/plan_scale.py                 # 10,000 GPUs, 40 deployments
    python bench/plan_scale.py --gpus 100000   # the large case
    python bench/plan_scale.py --gpus 2000 --deployments 20 --seed 3

Prints, for the same fleet and demand: fleet/candidate sizes, the planner's wall time, its
objective, the solver's bound and the gap, and the binpack baseline's objective side by side.
The fleet is `rigshift.fleet.demo.demo_fleet(scale=N)`; the demand is generated here from the
model catalog, deterministically from the seed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from rigshift.fleet.demo import demo_fleet
from rigshift.plan import plan_placement
from rigshift.plan.assign import binpack_baseline
from rigshift.plan.candidates import EstimateCache, build_candidates
from rigshift.plan.demand import Demand
from rigshift.plan.milp import evaluate
from rigshift.plan.seams import default_seams

# (model, quant, context, parallel): what a farm of 4-24 GB cards can sell.
_MENU = (
    ("qwen2.5-0.5b", "Q8_0", 4096, 4),
    ("qwen3-0.6b", "Q8_0", 8192, 2),
    ("llama-3.2-1b", "Q4_K_M", 8192, 4),
    ("qwen2.5-1.5b", "Q4_K_M", 8192, 2),
    ("gemma-2-2b", "Q4_K_M", 4096, 2),
    ("llama-3.2-3b", "Q4_K_M", 8192, 2),
    ("qwen2.5-3b", "Q4_K_M", 8192, 2),
    ("phi-3-mini", "Q4_K_M", 4096, 2),
    ("qwen3-4b", "Q4_K_M", 8192, 2),
    ("llama-3.1-8b", "Q4_K_M", 8192, 2),
    ("qwen2.5-7b", "Q4_K_M", 8192, 2),
    ("mistral-7b-v0.3", "Q4_K_M", 8192, 1),
    ("qwen3-8b", "Q4_K_M", 4096, 2),
    ("gemma-2-9b", "Q4_K_M", 4096, 1),
    ("mistral-nemo-12b", "Q4_K_M", 4096, 1),
    ("qwen2.5-14b", "Q4_K_M", 4096, 1),
    ("phi-4", "Q4_K_M", 4096, 1),
    ("qwen2.5-32b", "Q4_K_M", 4096, 1),
    ("qwen3-30b-a3b", "Q4_K_M", 4096, 1),
    ("bge-m3", "F16", 512, 8),
)


def make_demand(deployments: int, gpus: int, seed: int) -> Demand:
    rng = random.Random(seed)
    scale = gpus / 10_000
    items = []
    for i in range(deployments):
        model, quant, context, parallel = _MENU[i % len(_MENU)]
        item: dict[str, object] = {
            "name": f"d{i:02d}-{model}",
            "model": model,
            "quant": quant,
            "context": context,
            "parallel": parallel,
        }
        if i % 4 == 3:
            item["throughput"] = {"tokens_per_s": round(rng.uniform(500, 5000) * scale, 1)}
        else:
            top = max(1, int(rng.uniform(20, 250) * scale))
            item["replicas"] = {"min": max(0, int(top * rng.uniform(0, 0.2))), "max": top}
        item["value"] = (
            {"usd_per_mtok": round(rng.uniform(0.05, 0.6) * (1 + i % 7 / 3), 3)}
            if i % 5
            else {"priority": round(rng.uniform(0.05, 0.3), 3)}
        )
        if i % 6 == 5:
            item["constraints"] = {"sites": [rng.choice(["tx-ercot", "no-hydro"])]}
        items.append(item)
    return Demand.model_validate({"deployments": items})


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
    demand = make_demand(args.deployments, args.gpus, args.seed)
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
    seams = default_seams()

    t0 = time.perf_counter()
    plan = plan_placement(fleet, demand, options=options, seams=seams)
    t_plan = time.perf_counter() - t0

    t0 = time.perf_counter()
    cands = build_candidates(fleet, demand, options, seams, EstimateCache(seams))
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
