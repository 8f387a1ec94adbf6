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

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rigshift.energy.farm import Farm
from rigshift.energy.policy import CAP_FRACTIONS, INTERACTIVE_CAP_FLOOR
from rigshift.errors import InputError, Problem
from rigshift.readers.models import YamlDocument, read_model

# Demo defaults: stated, not measured (docs/energy.md).
DEMO_MIN_REPLICA_SHARE = 0.10  # of the converted cards
DEMO_INTERACTIVE_MEAN_SHARE = 0.25  # mean interactive demand, share of converted capacity at the floor cap
DEMO_PEAK_RATIO = 1.6
DEMO_PEAK_HOUR_UTC = 20  # 14:00-15:00 in Texas
DEMO_BATCH_SHARE = 0.30  # a day's batch work, share of a day of converted capacity
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

    def tokens_per_s(self, starts: np.ndarray) -> np.ndarray:
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


def demo_demand(farm: Farm) -> Demand:
    """The default demand for `--demo`: an interactive part and a batch part per site that serves.

    Sized from the farm itself (shares above), priced at the model class's output-token price
    for interactive and half of it for batch (the Batch API's discount).
    """
    price = farm.model_class.usd_per_m_output
    interactive, batch = [], []
    floor_index = next(i for i, f in enumerate(CAP_FRACTIONS) if f <= INTERACTIVE_CAP_FLOOR + 1e-9)
    for site in farm.sites:
        serving = [g for g in site.groups if g.converted and g.levels]
        if not serving:
            continue
        capacity = sum(g.count * g.levels[floor_index].tokens_per_s for g in serving)
        cards = sum(g.count for g in serving)
        interactive.append(
            InteractiveDemand(
                deployment=f"chat-{farm.model_class.name}-{site.site}",
                site=site.site,
                min_replicas=max(1, round(cards * DEMO_MIN_REPLICA_SHARE)),
                mean_tokens_per_s=round(capacity * DEMO_INTERACTIVE_MEAN_SHARE, 1),
                peak_ratio=DEMO_PEAK_RATIO,
                peak_hour_utc=DEMO_PEAK_HOUR_UTC,
                usd_per_m_tokens=price,
            )
        )
        batch.append(
            BatchArrivals(
                site=site.site,
                tokens=round(capacity * 86400 * DEMO_BATCH_SHARE, -3),
                every_hours=24,
                window_hours=24,
                usd_per_m_tokens=price * BATCH_DISCOUNT,
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
