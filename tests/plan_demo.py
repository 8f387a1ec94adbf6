"""A demand to go with the demo fleet (`rigshift.fleet.demo.demo_fleet`), for the planner's scale
tests and bench/plan_scale.py (not part of the package: nothing in rigshift uses it).
Deterministic in its seed; sized to the farm."""

from __future__ import annotations

import random

from rigshift.plan.demand import Demand

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


def demo_demand(deployments: int = 40, gpus: int = 10_000, seed: int = 0) -> Demand:
    """`deployments` deployments sized for a farm of about `gpus` GPUs (`demo_fleet(scale=gpus)`)."""
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
