"""The history: samples in (telemetry, metered requests, farm snapshots), rolled up, stored, read.

Ingest and metering add samples in memory on the event loop (a dict update per value); `flush`
(every `history_flush_s`) takes a farm snapshot, hands what changed to the store on a worker
thread, and now and then deletes points past their tier's retention. `GET /admin/history` reads
one series at one resolution: the chart's points.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from rigshift.run.contracts import ReplicaDirectory, RigTelemetry
from rigshift.server.errors import BadRequest
from rigshift.server.fleet_source import FleetSource
from rigshift.server.fleet_view import build_view
from rigshift.server.history_farm import FarmSnapshot, farm_snapshot, request_samples, telemetry_samples
from rigshift.server.history_rollup import Rollup
from rigshift.server.history_series import (
    ALL,
    HOUR,
    MINUTE,
    QUARTER,
    RANGES,
    RETENTION_S,
    SCOPE_PARAMS,
    SERIES,
    TOTAL_SCOPES,
    SeriesDef,
    gpu_subject,
)
from rigshift.server.metering import TokenPrices
from rigshift.server.services.deployments import all_replicas
from rigshift.server.services.telemetry import TelemetryService
from rigshift.server.stores.history import HistoryStore
from rigshift.server.stores.usage import UsageRecord
from rigshift.suggest import did_you_mean

PRUNE_EVERY_S = 600.0
# How often each tier is written, in flushes: the 1-minute points every flush, the 15-minute and
# hourly ones every 10th and 30th (every 5 and 15 minutes at the default 30 s). Their buckets add
# up in memory meanwhile; writing all three every flush tripled the rows each flush merges
# (bench/history_scale.py), for charts whose points are 15 and 60 minutes apart.
WRITE_EVERY = {MINUTE: 1, QUARTER: 10, HOUR: 30}
SUBJECTS_LISTED = 500


@dataclass(frozen=True)
class HistoryQuery:
    series: str
    range: str
    filters: dict[str, str]  # rig, gpu, site, model, replica, tenant, card_class


class HistoryService:
    def __init__(
        self,
        store: HistoryStore,
        clock: Callable[[], float],
        prices: Callable[[], TokenPrices],
        snapshot: Callable[[], Callable[[], FarmSnapshot | None]] = lambda: lambda: None,
    ):
        self.store = store
        self.clock = clock
        self.prices = prices
        self.snapshot = snapshot
        self.rollup = Rollup()
        self._last_snapshot: FarmSnapshot | None = None
        self._last_snapshot_at: float | None = None
        self._pruned_at = 0.0
        self._flushes = 0

    # --- in ------------------------------------------------------------------------------------
    def observe_telemetry(self, report: RigTelemetry, at: float) -> None:
        for series, subject, value in telemetry_samples(report):
            self.rollup.add(series, subject, value, at)

    def observe_request(self, record: UsageRecord, ttft_s: float) -> None:
        last = self._last_snapshot
        samples, durations = request_samples(
            record,
            ttft_s,
            self.prices(),
            last.classes if last else {},
            last.sites if last else {},
        )
        for series, subject, value in samples:
            self.rollup.add(series, subject, value, record.created_at)
        for prefix, subject, seconds in durations:
            self.rollup.add_duration(prefix, subject, seconds, record.created_at)

    def observe_farm(self, snapshot: FarmSnapshot, at: float) -> None:
        """A farm snapshot: its gauges, and the power cost since the previous one (at most a
        minute's worth: a server that was stopped did not pay for the gap)."""
        for series, subject, value in snapshot.samples:
            self.rollup.add(series, subject, value, at)
        if self._last_snapshot_at is not None:
            elapsed = min(max(0.0, at - self._last_snapshot_at), 60.0)
            for site, usd_per_h in snapshot.cost_usd_per_h.items():
                self.rollup.add("site.cost_usd_per_h", site, usd_per_h * elapsed / 3600.0, at)
        self._last_snapshot, self._last_snapshot_at = snapshot, at

    async def flush(self, everything: bool = False) -> None:
        """Snapshot the farm, write what changed in the tiers due (`everything`: all of them, as
        at shutdown), prune now and then (all off the event loop)."""
        now = self.clock()
        build = self.snapshot()  # the live state, read on the loop that changes it
        snapshot = await anyio.to_thread.run_sync(build)  # the fleet view built off it
        if snapshot is not None:
            self.observe_farm(snapshot, now)
        due = [res for res, every in WRITE_EVERY.items() if everything or self._flushes % every == 0]
        self._flushes += 1
        points = self.rollup.take(now, due)
        try:
            await anyio.to_thread.run_sync(self.store.write, points)
        except BaseException:
            self.rollup.give_back(points)  # the next round writes them
            raise
        if now - self._pruned_at >= PRUNE_EVERY_S:
            self._pruned_at = now
            cutoffs = {res: now - keep for res, keep in RETENTION_S.items()}
            await anyio.to_thread.run_sync(self.store.prune, cutoffs)

    # --- out -----------------------------------------------------------------------------------
    def catalog(self) -> list[dict[str, Any]]:
        """Every series: its name, unit, kind, what it is about and how to pick its subject."""
        return [
            {
                "name": s.name,
                "unit": s.unit,
                "kind": s.kind,
                "scope": s.scope,
                "params": list(SCOPE_PARAMS[s.scope]),
                "description": s.description,
            }
            for s in SERIES.values()
        ]

    async def query(self, q: HistoryQuery) -> dict[str, Any]:
        definition = _series(q.series)
        if q.range not in RANGES:
            raise BadRequest(
                f"unknown range {q.range!r}; expected one of {', '.join(RANGES)}",
                param="range",
                code="invalid_value",
            )
        span, resolution = RANGES[q.range]
        subject = _subject(definition, q.filters)
        now = self.clock()
        rows = await anyio.to_thread.run_sync(
            self.store.points, definition.name, subject, resolution, now - span
        )
        points = [[bucket, definition.value(n, total, resolution)] for bucket, n, total, _lo, _hi in rows]
        return {
            "series": definition.name,
            "subject": subject,
            "unit": definition.unit,
            "kind": definition.kind,
            "range": q.range,
            "resolution_s": resolution,
            "from": now - span,
            "to": now,
            "points": points,
        }

    async def subjects(self, name: str) -> list[str]:
        definition = _series(name)
        return await anyio.to_thread.run_sync(self.store.subjects, definition.name, SUBJECTS_LISTED)


def _series(name: str) -> SeriesDef:
    definition = SERIES.get(name)
    if definition is None:
        hint = did_you_mean(name, list(SERIES))
        raise BadRequest(
            f"unknown series {name!r}"
            + (f"; did you mean {hint[0]!r}?" if hint else "")
            + " (GET /admin/history lists them)",
            param="series",
            code="invalid_value",
        )
    return definition


def _subject(definition: SeriesDef, filters: dict[str, str]) -> str:
    wanted = SCOPE_PARAMS[definition.scope]
    extra = sorted(set(filters) - set(wanted))
    if extra:
        raise BadRequest(
            f"series {definition.name} is per {definition.scope}: it takes "
            f"{' and '.join(p + '=' for p in wanted)}, not {extra[0]}=",
            param=extra[0],
            code="invalid_value",
        )
    missing = [p for p in wanted if p not in filters]
    if missing and definition.scope not in TOTAL_SCOPES:
        raise BadRequest(
            f"series {definition.name} needs {' and '.join(p + '=' for p in missing)}",
            param=missing[0],
            code="missing_parameter",
        )
    if definition.scope == "gpu":
        index = filters["gpu"]
        if not index.isdigit():
            raise BadRequest(
                f"gpu={index!r}: expected a GPU index (0, 1, …)", param="gpu", code="invalid_value"
            )
        return gpu_subject(filters["rig"], int(index))
    return filters.get(wanted[0], ALL)


def snapshot_source(
    fleet: FleetSource, telemetry: TelemetryService, directory: ReplicaDirectory, stale_s: float
) -> Callable[[], Callable[[], FarmSnapshot | None]]:
    """The farm as the Overview sees it now: the agents' reports and the replicas are read when
    called (on the event loop, which changes them); the returned function builds the fleet view
    from them (on a worker thread: loading the fleet file the first time takes ~0.6 s)."""

    def capture() -> Callable[[], FarmSnapshot | None]:
        latest, replicas, now = telemetry.latest(), all_replicas(directory), telemetry.clock()

        def build() -> FarmSnapshot | None:
            loaded = fleet.fleet()
            view = build_view(loaded, latest, replicas, now=now, stale_s=stale_s)
            return farm_snapshot(view, loaded, _default_power_price())

        return build

    return capture


@functools.cache
def _default_power_price() -> float | None:
    """econ's default power price, for sites whose fleet entry names none (as the Overview does)."""
    from rigshift.econ.prices import load_inputs  # econ loads ~1 s of price files: only when needed

    try:
        return load_inputs(None).power.usd_per_kwh
    except Exception:  # no price: power is still recorded, its cost is not
        return None
