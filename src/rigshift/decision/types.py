"""The farm decision's result types: one frozen object every view renders.

`DecisionSummary` is the part every `--json` carries as its top-level `decision` (and
`GET /admin/overview` returns): GPU counts through the funnel, the converted GPUs, the money now
and after, the demand, and the digest of the inputs it was computed from. Field names are
documented in docs/decision.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# A first token a chat user waits for: hosted 8B endpoints answer in well under a second; 2 s is
# the decision's default bound (docs/decision.md explains the choice; --max-ttft changes it).
DEFAULT_MAX_TTFT_S = 2.0

STAGES: tuple[str, ...] = ("capable", "hostable", "viable", "converted", "placed")
Stage = Literal["none", "capable", "hostable", "viable", "converted", "placed"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Funnel(_Frozen):
    """GPUs left after each step, in order; each count is a subset of the one before."""

    gpus: int
    capable: int  # the card serves the headline class (>= Q4, >= the context) on its own VRAM
    hostable: int  # ... and its rig runs a replica today (host RAM, cores, disk, link, no miner's VRAM)
    viable: int  # ... and it meets the service level: decode tok/s and time to first token
    converted: int  # ... and converting it pays (the conversion plan, demand-bounded)
    placed: int  # ... and the planner gives it a replica for the demand


class MonthlyNet(_Frozen):
    now: float  # every card as the farm runs today (mining its best coin, curtailed where it pays)
    after: float  # after the conversion plan (power, staff, lost mining income included)


class StepDrop(_Frozen):
    """One step of the funnel and the GPUs it removes, with what would move them."""

    step: str  # "capable", "hostable", ...
    gpus_removed: int
    why: str
    actions: tuple[str, ...] = ()  # unlock actions (priced where prices are known)


class PublishedShare(_Frozen):
    """The seed's figure the funnel is read against."""

    low: float
    high: float
    text: str
    source: str  # a public URL
    as_of: str


class Placement(_Frozen):
    """How the decision's replicas were placed and what they are worth."""

    miners: Literal["stopped"]  # a converted card's miner stops: its mining income is counted lost
    replicas: int
    tokens_per_day: float  # output + prompt tokens the placed replicas serve of the demand a day
    capacity_tokens_per_day: float  # what they could do at the stated utilisation
    utilisation: float  # the stated ceiling a replica is kept busy (econ's max_utilisation)
    unplaced: tuple[str, ...] = ()  # what the planner could not place, in one line each


class Scheduled(_Frozen):
    """The last step: the hours the converted cards run over the decision's power price series."""

    price_series: str | None  # the series (econ's power.series); None: the decision was given none
    hours: float  # hours the series spans
    converted_gpus: int
    gpu_hours: float  # the converted GPUs' hours on, summed
    hours_on: float  # per converted GPU, on average
    share_on: float  # hours_on / hours
    note: str


class DecisionSummary(_Frozen):
    """What every view prints identically, given the same fleet, prices, demand and measurements."""

    funnel: Funnel
    converted_gpu_ids: tuple[str, ...]
    monthly_net_usd: MonthlyNet
    demand: dict[str, float]  # tokens per day (prompt + output) per model (price) class
    inputs_digest: str
    headline_class: str
    service_level: str  # the exact service level "viable" means
    batch_only_gpus: int  # hostable GPUs that fail the service level: batch work only
    share_worth_converting: float  # converted / gpus
    published: PublishedShare
    largest_drop: StepDrop | None = None
    drops: tuple[StepDrop, ...] = ()
    placement: Placement | None = None
    scheduled: Scheduled | None = None
    verdict: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GpuDecision:
    """One GPU through the funnel: the last step it passed and why it stopped there (a plain
    dataclass: a 100,000-GPU farm has 100,000 of them, and pydantic's validation cost seconds)."""

    id: str  # "site/rig/position"
    rig: str
    site: str
    position: int
    gpu_model: str
    stage: Stage
    stopped_by: str | None = None  # why it did not pass the next step
    decode_tps: float = 0.0
    ttft_s: float | None = None


class Versions(_Frozen):
    rigshift: str
    decision: int = 1


class DecisionInputsRecord(_Frozen):
    """What the decision was computed from (the digest covers these)."""

    fleet: str
    gpus: int
    prices: str  # the prices file, or "defaults"
    demand_source: str
    measurements: str  # "n rows" or "none"
    criteria: str
    max_ttft_s: float = Field(gt=0)
    prompt_tokens: int


__all__ = [
    "DEFAULT_MAX_TTFT_S",
    "STAGES",
    "DecisionInputsRecord",
    "DecisionSummary",
    "Funnel",
    "GpuDecision",
    "MonthlyNet",
    "Placement",
    "PublishedShare",
    "Scheduled",
    "Stage",
    "StepDrop",
    "Versions",
]
