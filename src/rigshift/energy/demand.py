"""What the farm is asked to do over time: interactive demand, batch arrivals, demand-response events.

Demand file (YAML or JSON, every section optional)::

    interactive:
      - deployment: chat-8b
        site: tx-ercot
        min_replicas: 40            # the SLO: replicas that stay up outside events
        mean_tokens_per_s: 8000     # daily mean; a sine with its peak at peak_hour_utc
        peak_ratio: 1.6             # peak / mean
        peak_hour_utc: 20
        usd_per_m_tokens: 0.22
    batch:
      - site: tx-ercot
        every_hours: 24             # a batch arrives every 24 h from first_at
        first_at: "2024-01-01T06:00:00Z"   # default: the start of the price file
        tokens: 3.0e9
        window_hours: 24            # its deadline: the OpenAI Batch API's 24 h window
        usd_per_m_tokens: 0.11

Events file: a YAML/JSON list (or `events:` key) of `{site, start, end, shed_kw | target_kw}`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rigshift.energy.farm import Farm
from rigshift.errors import InputError, Problem
from rigshift.readers.models import YamlDocument, read_model

if TYPE_CHECKING:
    from rigshift.decision.compute import FarmDecision

# The batch part of the decision's demand: stated, not measured (docs/energy.md).
BATCH_SHARE_OF_DEMAND = 0.25  # a day's batch tokens, share of a day's interactive output tokens
BATCH_DISCOUNT = 0.5  # the OpenAI Batch API's price: half the interactive price


class InteractiveDemand(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deployment: str
    site: str
    min_replicas: int = Field(ge=0)
    mean_tokens_per_s: float = Field(ge=0)
    peak_ratio: float = Field(default=1.0, ge=1.0, le=2.0)
    peak_hour_utc: float = Field(default=20, ge=0, lt=24)
    usd_per_m_tokens: float = Field(ge=0)
    # The daily shape as 24 hourly weights (local hours 00-23 in `timezone`), econ's load profile;
    # when given it replaces the sine (peak_ratio, peak_hour_utc).
    profile: tuple[float, ...] | None = Field(default=None, min_length=24, max_length=24)
    timezone: str = "UTC"

    def tokens_per_s(self, starts: np.ndarray) -> np.ndarray:
        if self.profile is not None:
            from rigshift.energy.contracts import local_hours

            weights = np.asarray(self.profile, dtype=float)
            weights = weights / weights.mean() if weights.mean() > 0 else np.zeros(24)
            hour, _, _ = local_hours(np.asarray(starts, dtype=np.int64), self.timezone)
            return self.mean_tokens_per_s * weights[hour]
        hours = (starts % 86400) / 3600
        swing = (self.peak_ratio - 1.0) * np.cos((hours - self.peak_hour_utc) / 24 * 2 * math.pi)
        return self.mean_tokens_per_s * (1.0 + swing)


class BatchArrivals(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: str
    tokens: float = Field(gt=0)
    every_hours: float = Field(default=24, gt=0)
    first_at: datetime | None = None
    window_hours: float = Field(default=24, gt=0)
    usd_per_m_tokens: float = Field(ge=0)


class Demand(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interactive: list[InteractiveDemand] = Field(default_factory=list)
    batch: list[BatchArrivals] = Field(default_factory=list)


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: str
    start: datetime
    end: datetime
    shed_kw: float | None = Field(default=None, gt=0)
    target_kw: float | None = Field(default=None, ge=0)
    id: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Event:
        if (self.shed_kw is None) == (self.target_kw is None):
            raise ValueError("give shed_kw or target_kw (one of them)")
        if _ts(self.end) <= _ts(self.start):
            raise ValueError("end must be after start")
        return self

    @property
    def start_ts(self) -> float:
        return _ts(self.start)

    @property
    def end_ts(self) -> float:
        return _ts(self.end)


def _ts(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True)
class ArrivingJob:
    id: str
    site: str
    arrive: float
    tokens: float
    deadline: float
    usd_per_m_tokens: float


def read_demand(path: Path) -> Demand:
    return read_model(Demand, path, "an energy demand file (docs/energy.md)", empty={})


def read_events(path: Path) -> list[Event]:
    document = YamlDocument.read(path, "demand-response events (docs/energy.md)")
    data, at = document.data or [], tuple[str, ...]()
    if isinstance(data, dict):
        data, at = data.get("events", []), ("events",)
    if not isinstance(data, list):
        raise InputError(
            Problem(
                "expected a list of events", str(path), location="$", expected="- {site, start, end, shed_kw}"
            )
        )
    return [document.validate(Event, item, at=(*at, i)) for i, item in enumerate(data)]


def check_sites(demand: Demand, events: list[Event], farm: Farm, source: str) -> None:
    names = {s.site for s in farm.sites}
    for where, site in (
        [(f"interactive {d.deployment}", d.site) for d in demand.interactive]
        + [("batch", b.site) for b in demand.batch]
        + [("event", e.site) for e in events]
    ):
        if site not in names:
            from rigshift.suggest import did_you_mean

            raise InputError(
                Problem(
                    f"{where}: no site {site!r} in the simulated fleet",
                    source,
                    field="site",
                    suggestions=did_you_mean(site, names),
                )
            )


def decision_demand(made: FarmDecision, farm: Farm, timezone: str = "UTC") -> Demand:
    """The farm decision's demand, per simulated site: no demand is invented from capacity.

    Interactive: the decision's requests a day of the farm's model class (econ's demand), shared
    among the sites by their converted GPUs, as output tokens/s with econ's daily load profile
    (local hours in `timezone`), at most what the site's converted cards serve at econ's
    `max_utilisation` (the decision's placement serves no more); priced per output token with the prompt's price folded in
    (`usd_per_m_output + usd_per_m_input x prompt/output tokens`). Minimum replicas (the SLO):
    what the mean demand needs at econ's `max_utilisation` on the site's fastest converted card,
    at most its converted cards. Batch: `BATCH_SHARE_OF_DEMAND` of a day's interactive tokens,
    arriving daily at 00:00 UTC, due in 24 h (the OpenAI Batch API window), at `BATCH_DISCOUNT`.
    """
    economics = made.economics
    if economics is None:
        return Demand()
    ai = economics.inputs.ai
    mc = farm.model_class
    output_tps = ai.demand.requests_per_day(mc.name) * ai.output_tokens_per_request / 86400
    usd_per_m = mc.usd_per_m_output + mc.usd_per_m_input * ai.input_tokens_per_request / max(
        ai.output_tokens_per_request, 1
    )
    converted: dict[str, int] = {}
    for g in made.gpus:
        if g.stage in ("converted", "placed"):
            converted[g.site] = converted.get(g.site, 0) + 1
    total = sum(converted.values())
    interactive, batch = [], []
    for site in farm.sites:
        serving = [g for g in site.groups if g.converted and g.levels]
        cards = sum(g.count for g in serving)
        if not serving or not total or output_tps <= 0:
            continue
        fastest = max(g.levels[0].tokens_per_s for g in serving)
        # the site's share of the demand, at most what its converted cards serve at econ's utilisation
        capacity = sum(g.count * g.levels[0].tokens_per_s for g in serving) * ai.max_utilisation
        mean = min(output_tps * converted.get(site.site, 0) / total, capacity)
        replicas = min(cards, max(1, math.ceil(mean / (fastest * ai.max_utilisation))))
        interactive.append(
            InteractiveDemand(
                deployment=f"chat-{mc.name}-{site.site}",
                site=site.site,
                min_replicas=replicas,
                mean_tokens_per_s=round(mean, 3),
                usd_per_m_tokens=round(usd_per_m, 6),
                profile=tuple(ai.demand.load_profile) if len(ai.demand.load_profile) == 24 else None,
                timezone=timezone,
            )
        )
        batch.append(
            BatchArrivals(
                site=site.site,
                tokens=round(mean * 86400 * BATCH_SHARE_OF_DEMAND, -3) or 1000.0,
                every_hours=24,
                first_at=None,
                window_hours=24,
                usd_per_m_tokens=round(usd_per_m * BATCH_DISCOUNT, 6),
            )
        )
    return Demand(interactive=interactive, batch=batch)


def batch_jobs(demand: Demand, start: float, end: float) -> list[ArrivingJob]:
    jobs = []
    for n, arrivals in enumerate(demand.batch):
        t = _ts(arrivals.first_at) if arrivals.first_at else start
        k = 0
        while t < end:
            if t >= start:
                jobs.append(
                    ArrivingJob(
                        id=f"batch-{n}-{k}",
                        site=arrivals.site,
                        arrive=t,
                        tokens=arrivals.tokens,
                        deadline=t + arrivals.window_hours * 3600,
                        usd_per_m_tokens=arrivals.usd_per_m_tokens,
                    )
                )
            k += 1
            t += arrivals.every_hours * 3600
    return jobs
