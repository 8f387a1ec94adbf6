"""`decide`: the one farm decision, computed once from the fleet, prices, demand, measurements and
criteria, that assess, econ, plan, energy and the console render.

Order (each step a subset of the one before, per GPU and per rig):

1. capable → hostable now → viable: the assessment's verdicts sorted into steps (funnel.py);
2. worth converting: the conversion plan (rigshift.econ: demand-bounded revenue against mining with
   curtailment, rental and resale, staff and fixed costs) with each card class capped at its
   viable cards; the converted GPUs are the fastest viable ones of each class;
3. placed: the planner's replicas for the demand the conversion plan serves, on the converted
   cards with their miners stopped (placement.py);
4. scheduled: the hours the converted cards run over the decision's power price series (schedule.py:
   at or below each card's break-even, from the series' duration curve); the hour-by-hour schedule
   is `rigshift energy simulate`'s, on the same converted cards and demand.

Pure: no files, no clock, no network. The result is cached by the digest of its inputs.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from threading import Lock
from types import MappingProxyType

from rigshift.assess import FleetAssessment, GpuProfile, ReadinessCriteria, Unlock, assess_fleet
from rigshift.assess.unlocks import reprice_unlocks
from rigshift.decision.digest import inputs_digest
from rigshift.decision.funnel import FunnelResult, ServiceLevel, funnel
from rigshift.decision.placement import converted_fleet, demand_to_place, placed_ids, placement_options
from rigshift.decision.schedule import converted_by_class, scheduled
from rigshift.decision.types import (
    DEFAULT_MAX_TTFT_S,
    DecisionInputsRecord,
    DecisionSummary,
    Funnel,
    GpuDecision,
    MonthlyNet,
    Placement,
    PublishedShare,
    StepDrop,
    Versions,
)
from rigshift.econ.analysis import Economics, analyze_fleet
from rigshift.econ.assessed import assessed_throughput
from rigshift.econ.inputs import EconInputs, Provenance
from rigshift.econ.throughput import EstimatorThroughput
from rigshift.econ.unlocks import TIER_UP_SHARE, unlock_costs, value_of_ready_gpu
from rigshift.estimate.types import GpuSlot, Hardware, Workload
from rigshift.fleet.model import Fleet
from rigshift.plan import Demand, Plan, plan_placement
from rigshift.toolkit import Toolkit

DECISION_VERSION = 1


PUBLISHED = PublishedShare(
    low=0.05,
    high=0.15,
    text="only 5-15% of existing crypto-oriented GPUs can be repurposed for AI (Bitpro, in Bloomberg)",
    source="https://bitproit.com/gpu-miners-pivot-ai/",
    as_of="2023",
)

_WHY = {
    "capable": "the card cannot serve the headline class at all (VRAM of the card, no GPU runtime)",
    "hostable": "the rig cannot run a replica today (a miner's VRAM, host RAM, CPU cores, disk, heat)",
    "viable": "too slow for interactive use (decode speed or time to first token): batch only",
    "converted": "converting does not pay against mining, renting or selling at this demand and these prices",
    "placed": "the planner found no replica for them within the demand",
}
_UNLOCKS_FOR = {
    "hostable": ("stop_miners", "add_ram", "add_cores", "add_disk", "replace_risers", "improve_cooling"),
}
_MOVES = {
    "capable": ("cards with more VRAM (econ's purchasable cards), or a smaller headline class",),
    "viable": ("faster cards, a smaller model class, or a looser service level (--max-ttft, --min-tps)",),
    "converted": ("more demand (--demand) or higher token prices: see econ's sensitivity tables",),
    "placed": ("a demand file whose deployments fit these cards (rigshift plan --explain)",),
}


@dataclass(frozen=True)
class FarmDecision:
    """The decision and everything the views render of it."""

    summary: DecisionSummary
    gpus: tuple[GpuDecision, ...]
    assessment: FleetAssessment
    economics: Economics | None  # None: no GPU of the fleet is in the catalog, nothing to price
    plan: Plan | None
    placed_demand: Demand | None
    inputs: DecisionInputsRecord
    versions: Versions
    provenance: tuple[Provenance, ...]
    viable_by_class: Mapping[str, int]  # card class id -> viable cards (the economics' cap)

    def converted_ids(self) -> frozenset[str]:
        return frozenset(self.summary.converted_gpu_ids)


_UNPRICED = "no GPU of the fleet is in the GPU catalog: nothing to price"

_CACHE: OrderedDict[str, FarmDecision] = OrderedDict()
_CACHE_LOCK = Lock()
_CACHE_SIZE = 8


def _rigshift_version() -> str:
    try:
        return version("rigshift")
    except PackageNotFoundError:
        return "unknown"


def decide(
    fleet: Fleet,
    inputs: EconInputs,
    tools: Toolkit,
    *,
    criteria: ReadinessCriteria | None = None,
    max_ttft_s: float = DEFAULT_MAX_TTFT_S,
    plan_demand: Demand | None = None,
    measurements: str = "none",
    prices_source: str = "defaults",
    with_sensitivity: bool = False,
) -> FarmDecision:
    """The farm decision (cached by the digest of every input, `measurements` naming the stored
    rows the toolkit is calibrated with). `plan_demand`: a plan's demand file to place instead of
    the conversion plan's service; `with_sensitivity` adds econ's sweeps (the decision is the same)."""
    criteria = criteria or ReadinessCriteria()
    digest = inputs_digest(
        {
            "fleet": fleet,
            "inputs": inputs,
            "criteria": criteria,
            "max_ttft_s": max_ttft_s,
            "plan_demand": plan_demand,
            "measurements": measurements,
            "version": [DECISION_VERSION, _rigshift_version()],
        }
    )
    key = f"{digest}/{with_sensitivity}"
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    made = _decide(
        fleet, inputs, tools, criteria, max_ttft_s, plan_demand, measurements, prices_source,
        with_sensitivity, digest,
    )  # fmt: skip
    with _CACHE_LOCK:
        _CACHE[key] = made
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return made


def _decide(
    fleet: Fleet,
    inputs: EconInputs,
    tools: Toolkit,
    criteria: ReadinessCriteria,
    max_ttft_s: float,
    plan_demand: Demand | None,
    measurements: str,
    prices_source: str,
    with_sensitivity: bool,
    digest: str,
) -> FarmDecision:
    assessment = assess_fleet(fleet, criteria, tools, unlock_costs=unlock_costs(inputs))
    level = ServiceLevel(criteria.min_decode_tps, max_ttft_s, inputs.ai.input_tokens_per_request)
    steps = funnel(fleet, assessment, criteria, level, _fits_alone(tools, criteria))
    priced = assessment.summary.unassessed_gpus < assessment.summary.gpus
    economics = (
        _economics(fleet, inputs, tools, criteria, assessment, steps, with_sensitivity) if priced else None
    )
    converted = _converted(economics, steps) if economics is not None else set()
    plan, placed_demand, placed, placement = (
        _place(fleet, economics, converted, plan_demand, tools, criteria)
        if economics is not None
        else (None, None, set(), None)
    )
    gpus = tuple(_staged(steps.gpus, converted, placed))
    counts = Funnel(
        gpus=len(gpus),
        capable=sum(g.stage != "none" for g in gpus),
        hostable=sum(g.stage in ("hostable", "viable", "converted", "placed") for g in gpus),
        viable=sum(g.stage in ("viable", "converted", "placed") for g in gpus),
        converted=sum(g.stage in ("converted", "placed") for g in gpus),
        placed=sum(g.stage == "placed" for g in gpus),
    )
    drops = _drops(counts, economics.unlocks if economics is not None else ())
    ai = inputs.ai
    demand = {
        p.name: round(ai.demand.requests_per_day(p.name) * ai.tokens_per_request, 3) for p in ai.token_prices
    }
    money = MonthlyNet(
        now=round(economics.plan.monthly_net_before_usd, 2) if economics is not None else 0.0,
        after=round(economics.plan.monthly_net_after_usd, 2) if economics is not None else 0.0,
    )
    summary = DecisionSummary(
        funnel=counts,
        converted_gpu_ids=tuple(sorted(converted)),
        monthly_net_usd=money,
        demand=demand,
        inputs_digest=digest,
        headline_class=criteria.headline_class.value,
        service_level=level.describe(),
        batch_only_gpus=sum(g.stage == "hostable" for g in gpus),
        share_worth_converting=round(counts.converted / counts.gpus, 4) if counts.gpus else 0.0,
        published=PUBLISHED,
        largest_drop=max(drops, key=lambda d: (d.gpus_removed, -len(d.step))) if drops else None,
        drops=drops,
        placement=placement,
        scheduled=scheduled(economics, converted_by_class(gpus)),
        verdict=_verdict(counts, money),
        notes=tuple(economics.notes) if economics is not None else (_UNPRICED,),
    )
    record = DecisionInputsRecord(
        fleet=fleet.name,
        gpus=fleet.gpu_count,
        prices=prices_source,
        demand_source=ai.demand.source,
        measurements=measurements,
        criteria=criteria.describe(),
        max_ttft_s=max_ttft_s,
        prompt_tokens=level.prompt_tokens,
    )
    return FarmDecision(
        summary=summary,
        gpus=gpus,
        assessment=assessment,
        economics=economics,
        plan=plan,
        placed_demand=placed_demand,
        inputs=record,
        versions=Versions(rigshift=_rigshift_version(), decision=DECISION_VERSION),
        provenance=tuple(inputs.provenance),
        viable_by_class=MappingProxyType({k: len(v) for k, v in steps.viable_by_class.items()}),
    )


def _fits_alone(tools: Toolkit, criteria: ReadinessCriteria) -> Callable[[GpuProfile], bool]:
    """Whether the headline class (its smallest-quality acceptable quant, at the context floor) fits
    a card of this model with nothing else on it: a miner's VRAM does not make a card incapable."""
    seen: dict[tuple[str, str | None], bool] = {}

    def fits(profile: GpuProfile) -> bool:
        key = (profile.gpu_model, profile.gpu_runtime)
        if key not in seen:
            spec = tools.gpu(profile.gpu_model)
            seen[key] = (
                spec is not None
                and profile.gpu_runtime is not None
                and any(
                    tools.estimate(
                        Workload(
                            tools.model(name),
                            criteria.min_quant,
                            criteria.min_context,
                            runtime=profile.gpu_runtime,
                        ),
                        Hardware(gpus=(GpuSlot(spec=spec),)),
                    ).fits
                    for name in criteria.models_for(criteria.headline_class)
                )
            )
        return seen[key]

    return fits


def _economics(
    fleet: Fleet,
    inputs: EconInputs,
    tools: Toolkit,
    criteria: ReadinessCriteria,
    assessment: FleetAssessment,
    steps: FunnelResult,
    with_sensitivity: bool,
) -> Economics:
    """econ's analysis (as `fleet_economics` runs it) with each class capped at its viable cards."""
    throughput = assessed_throughput(fleet, inputs, EstimatorThroughput(tools), criteria, assessment)
    viable = {cid: len(ids) for cid, ids in steps.viable_by_class.items()}
    economics = analyze_fleet(
        fleet, inputs, tools.gpu_spec, throughput, with_sensitivity=with_sensitivity, viable_gpus=viable
    )
    value = value_of_ready_gpu(economics.plan, inputs)
    unlocks = reprice_unlocks(assessment.summary.unlocks, value, value * TIER_UP_SHARE)
    return economics.model_copy(update={"unlocks": tuple(unlocks), "value_per_ready_gpu_month": value})


def _converted(economics: Economics, steps: FunnelResult) -> set[str]:
    """The GPUs the conversion plan converts: per class, its count of the fastest viable cards."""
    wanted: dict[str, int] = defaultdict(int)
    for a in economics.plan.after:
        if a.use == "infer" and not a.bought:
            wanted[a.card_id] += a.count
    out: set[str] = set()
    for cid, count in wanted.items():
        out.update(steps.viable_by_class.get(cid, [])[:count])
    return out


def _place(
    fleet: Fleet,
    economics: Economics,
    converted: set[str],
    plan_demand: Demand | None,
    tools: Toolkit,
    criteria: ReadinessCriteria,
) -> tuple[Plan | None, Demand | None, set[str], Placement | None]:
    demand = plan_demand or demand_to_place(economics.plan, economics.inputs)
    if demand is None or not converted:
        return None, demand, set(), None
    cut, back = converted_fleet(fleet, converted)
    options = placement_options(demand, criteria.min_decode_tps, len(converted))
    plan = plan_placement(cut, demand, options=options, tools=tools)
    ai = economics.inputs.ai
    demand_tokens = sum(ai.demand.requests_per_day(p.name) for p in ai.token_prices) * ai.tokens_per_request
    per_request = ai.tokens_per_request / max(ai.output_tokens_per_request, 1)
    # Output tokens/s the placed replicas deliver of the demand: their capacity at the stated
    # utilisation, never more than the demand (the target is the demand over that utilisation).
    capacity_output = sum(d.tokens_per_s for d in plan.deployments) * ai.max_utilisation
    served_output = sum(
        min(d.tokens_per_s, _target(demand, d.deployment)) * ai.max_utilisation for d in plan.deployments
    )
    placement = Placement(
        miners="stopped",
        replicas=len(plan.replicas),
        # Never more than the demand buys (a plan's demand file may ask for replicas, not volume).
        tokens_per_day=round(min(served_output * per_request * 86_400, demand_tokens), 1),
        capacity_tokens_per_day=round(capacity_output * per_request * 86_400, 1),
        utilisation=ai.max_utilisation,
        unplaced=tuple(u.render() for u in plan.unplaced),
    )
    return plan, demand, set(placed_ids(plan, back)), placement


def _target(demand: Demand, name: str) -> float:
    d = next((d for d in demand.deployments if d.name == name), None)
    if d is None or d.throughput is None:
        return float("inf")
    return d.throughput.target_tokens_per_s


def _staged(gpus: list[GpuDecision], converted: set[str], placed: set[str]) -> list[GpuDecision]:
    out = []
    for g in gpus:
        if g.id in placed:
            out.append(replace(g, stage="placed", stopped_by=None))
        elif g.id in converted:
            out.append(replace(g, stage="converted", stopped_by=_WHY["placed"]))
        elif g.stage == "viable":
            out.append(replace(g, stopped_by=_WHY["converted"]))
        else:
            out.append(g)
    return out


def _drops(counts: Funnel, unlocks: Sequence[Unlock]) -> tuple[StepDrop, ...]:
    order = [("capable", counts.gpus, counts.capable), ("hostable", counts.capable, counts.hostable),
             ("viable", counts.hostable, counts.viable), ("converted", counts.viable, counts.converted),
             ("placed", counts.converted, counts.placed)]  # fmt: skip
    out = []
    for step, before, after in order:
        actions = list(_MOVES.get(step, ()))
        for unlock in unlocks:
            if unlock.action in _UNLOCKS_FOR.get(step, ()):
                cost = (
                    "free"
                    if unlock.cost_usd == 0
                    else ""
                    if unlock.cost_usd is None
                    else f"${unlock.cost_usd:,.0f}"
                )
                gain = "" if unlock.monthly_gain_usd is None else f", +${unlock.monthly_gain_usd:,.0f}/month"
                actions.append(f"{unlock.text} ({cost or 'unpriced'}{gain}): {unlock.effect}")
        out.append(StepDrop(step=step, gpus_removed=before - after, why=_WHY[step], actions=tuple(actions)))
    return tuple(out)


def _verdict(counts: Funnel, money: MonthlyNet) -> str:
    share = counts.converted / counts.gpus if counts.gpus else 0.0
    gain = money.after - money.now
    direction = "gains" if gain >= 0 else "loses"
    return (
        f"convert {counts.converted:,} of {counts.gpus:,} GPUs ({share:.1%}; published: 5-15%): "
        f"the farm {direction} ${abs(gain):,.0f}/month ({usd(money.now)} now → {usd(money.after)} after)"
    )


def usd(value: float) -> str:
    """-$2,807, not $-2,807."""
    return f"{'-' if value < 0 else ''}${abs(value):,.0f}"
