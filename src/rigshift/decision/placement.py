"""Step five of the funnel: the planner's replicas for the decision's demand, on the converted cards.

The converted cards stop mining (their mining income is already counted lost in the conversion
plan's "after"), so the planner sees them with no miner holding VRAM and never credits a replica
beside a running miner. The demand is what the conversion plan serves of each price class, as
throughput targets (requests/s of the workload's prompt + output), so the plan's revenue is bounded
by the demand's tokens a day, never its replicas' full capacity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rigshift.econ.demand import usd_per_request
from rigshift.econ.inputs import EconInputs
from rigshift.econ.plan import ConversionPlan
from rigshift.fleet.model import Fleet
from rigshift.plan import Demand, Plan, PlanOptions
from rigshift.plan.demand import Deployment, Throughput, Value

SECONDS_PER_DAY = 86_400.0


def converted_fleet(fleet: Fleet, converted: Iterable[str]) -> tuple[Fleet, dict[tuple[str, int], int]]:
    """The fleet cut to the converted GPUs, their miners stopped; and (rig, position in the cut) ->
    position in the original rig, to map the plan's GPUs back to decision ids."""
    wanted = set(converted)
    rigs = []
    back: dict[tuple[str, int], int] = {}
    for rig in fleet.rigs:
        keep = [p for p in range(len(rig.gpus)) if f"{rig.site}/{rig.name}/{p}" in wanted]
        if not keep:
            continue
        gpus = [
            rig.gpus[p].model_copy(update={"vram_used_by_others_gib": 0.0, "miner_running": False})
            for p in keep
        ]
        for new, old in enumerate(keep):
            back[(rig.name, new)] = old
        rigs.append(rig.model_copy(update={"gpus": gpus}))
    return fleet.model_copy(update={"rigs": rigs}), back


def demand_to_place(plan: ConversionPlan, inputs: EconInputs) -> Demand | None:
    """One throughput deployment per price class the conversion plan serves, at what it serves.

    The target is the served requests over the stated utilisation (replicas are kept at most
    `max_utilisation` busy), and each token is valued at the price times that utilisation, so the
    plan's revenue is exactly what the demand buys, never its replicas' full capacity."""
    ai = inputs.ai
    util = ai.max_utilisation
    deployments = []
    for service in plan.service:
        price = ai.price(service.model_class)
        if price is None or service.served_requests_per_day <= 0:
            continue
        per_output_mtok = usd_per_request(price, ai) / ai.output_tokens_per_request * 1e6 * util
        deployments.append(
            Deployment(
                name=price.name,
                model=price.model,
                quant=price.quant,
                context=price.context or 8192,
                parallel=price.parallel or 1,
                throughput=Throughput(
                    requests_per_s=service.served_requests_per_day / SECONDS_PER_DAY / util,
                    prompt_tokens=max(1, ai.input_tokens_per_request),
                    output_tokens=ai.output_tokens_per_request,
                ),
                value=Value(usd_per_mtok=per_output_mtok),
            )
        )
    return Demand(deployments=deployments) if deployments else None


def placement_options(demand: Demand, min_decode_tps: float, gpus: int) -> PlanOptions:
    """The planner's options for the decision: the service level's speed floor; the exact solver on
    small sets, the greedy one on large (both deterministic: the decision must not vary by run)."""
    base = demand.plan_options()
    return base.model_copy(
        update={"min_decode_tps": min_decode_tps, "solver": "milp" if gpus <= 256 else "greedy"}
    )


def placed_ids(plan: Plan, back: Mapping[tuple[str, int], int]) -> list[str]:
    """Decision ids of the GPUs the plan's replicas run on (a replica's GPUs share its site)."""
    out: set[str] = set()
    for replica in plan.replicas:
        for gpu in replica.gpus:
            old = back.get((gpu.rig, gpu.position))
            if old is not None:
                out.add(f"{replica.site}/{gpu.rig}/{old}")
    return sorted(out)
