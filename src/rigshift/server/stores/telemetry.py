"""Telemetry from agents: the latest reading per GPU in memory, written to the DB periodically.

At 2,000 GPUs every 5 s that is ~400 readings a second; writing each to the database would cost
more than everything else the control plane does, and only the latest value matters. So a
report replaces the rig's entry in a dict; a background task upserts the changed rigs every
`telemetry_flush_s` (one transaction), which is what survives a restart.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, insert, select

from rigshift.run.contracts import GpuTelemetry, RigTelemetry
from rigshift.server.stores import EngineStore
from rigshift.server.tables import telemetry_latest


class TelemetryHub:
    def __init__(self) -> None:
        self.latest: dict[str, tuple[float, RigTelemetry]] = {}  # rig -> (received at, report)
        self._dirty: set[str] = set()

    def ingest(self, report: RigTelemetry, received_at: float) -> None:
        self.latest[report.rig] = (received_at, report)
        self._dirty.add(report.rig)

    def readings(self) -> list[tuple[str, float, GpuTelemetry]]:
        return [(rig, at, gpu) for rig, (at, report) in self.latest.items() for gpu in report.gpus]

    def mark_dirty(self, rigs: Iterable[str]) -> None:
        self._dirty.update(rigs)

    def take_dirty(self) -> list[tuple[float, RigTelemetry]]:
        dirty, self._dirty = self._dirty, set()
        return [self.latest[rig] for rig in dirty if rig in self.latest]


class TelemetryStore(EngineStore):
    def save(self, reports: list[tuple[float, RigTelemetry]]) -> None:
        """Replace the stored rows of each reported rig, in one transaction."""
        if not reports:
            return
        rows = [
            {
                "rig": report.rig,
                "gpu_index": gpu.index,
                "uuid": gpu.uuid,
                "model": gpu.model,
                "reported_at": received_at,
                "temperature_c": gpu.temperature_c,
                "power_w": gpu.power_w,
                "power_limit_w": gpu.power_limit_w,
                "utilization_pct": gpu.utilization_pct,
                "memory_used_gib": gpu.memory_used_gib,
                "memory_total_gib": gpu.memory_total_gib,
                "memory_used_by_others_gib": gpu.memory_used_by_others_gib,
            }
            for received_at, report in reports
            for gpu in report.gpus
        ]
        with self.engine.begin() as conn:
            conn.execute(
                delete(telemetry_latest).where(telemetry_latest.c.rig.in_([r.rig for _, r in reports]))
            )
            if rows:
                conn.execute(insert(telemetry_latest), rows)

    def load(self) -> list[tuple[float, RigTelemetry]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(telemetry_latest).order_by(telemetry_latest.c.rig)).all()
        by_rig: dict[str, tuple[float, list[GpuTelemetry]]] = {}
        for r in rows:
            m = dict(r._mapping)
            rig, at = m.pop("rig"), m.pop("reported_at")
            m["index"] = m.pop("gpu_index")
            entry = by_rig.setdefault(rig, (at, []))
            entry[1].append(GpuTelemetry(**m))
        return [(at, RigTelemetry(rig=rig, timestamp=at, gpus=gpus)) for rig, (at, gpus) in by_rig.items()]
