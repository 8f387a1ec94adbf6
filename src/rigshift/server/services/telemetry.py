"""Agents' GPU telemetry: validated per rig, kept in memory, flushed to the database in batches."""

from __future__ import annotations

from collections.abc import Callable

import anyio.to_thread

from rigshift.run.contracts import RigTelemetry
from rigshift.server.errors import BadRequest
from rigshift.server.metrics import Metrics
from rigshift.server.stores.telemetry import TelemetryHub, TelemetryStore
from rigshift.server.telemetry_bounds import telemetry_problem


class TelemetryService:
    def __init__(
        self,
        hub: TelemetryHub,
        store: TelemetryStore,
        metrics: Metrics,
        clock: Callable[[], float],
        on_report: Callable[[RigTelemetry, float], None] = lambda _report, _at: None,
    ):
        self.hub = hub
        self.on_report = on_report  # the history's ingest
        self.store = store
        self.metrics = metrics
        self.clock = clock

    def ingest(self, report: RigTelemetry) -> None:
        """Accept one rig's report, or refuse it (that rig only: the others keep persisting)."""
        impossible = telemetry_problem(report)
        if impossible is not None:
            message, param = impossible
            raise BadRequest(f"rig {report.rig!r}: {message}", param=param, code="implausible_telemetry")
        indices = [g.index for g in report.gpus]
        if len(set(indices)) != len(indices):
            raise BadRequest(
                f"rig {report.rig!r} reported GPU index {_first_duplicate(indices)} twice",
                param="gpus",
                code="duplicate_gpu_index",
            )
        received_at = self.clock()
        self.hub.ingest(report, received_at)
        self.on_report(report, received_at)
        self.metrics.telemetry_reports.inc()

    def latest(self) -> dict[str, tuple[float, RigTelemetry]]:
        """The latest report per rig with when it arrived (a copy: the hub keeps changing)."""
        return dict(self.hub.latest)

    async def load(self) -> None:
        for received_at, report in await anyio.to_thread.run_sync(self.store.load):
            self.hub.latest.setdefault(report.rig, (received_at, report))

    async def flush(self) -> None:
        dirty = self.hub.take_dirty()
        try:
            await anyio.to_thread.run_sync(self.store.save, dirty)
        except BaseException:
            self.hub.mark_dirty(report.rig for _, report in dirty)  # the next round writes them
            raise


def _first_duplicate(values: list[int]) -> int:
    seen: set[int] = set()
    for v in values:
        if v in seen:
            return v
        seen.add(v)
    raise ValueError("no duplicate")
