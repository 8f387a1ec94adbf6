"""Measurements over HTTP: list, add (validated against the catalogs), and bench a rig through
its agent. The rig's agent is a Ray node labelled with the rig's name; the bench runs there as a
Ray task (`rigshift.run.agent.bench_on_this_rig`) and its rows come back to be stored here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import anyio.to_thread

from rigshift.errors import BackendError
from rigshift.measure.store import MeasurementStore
from rigshift.measure.types import Measurement
from rigshift.measure.validate import validate_measurements
from rigshift.server.errors import Conflict, NotFound


class RigBench(Protocol):
    def __call__(
        self, rig: str, runtime: str | None, threads: int | None, models: list[str] | None = None
    ) -> list[Measurement]: ...


class MeasurementsService:
    def __init__(
        self,
        store: MeasurementStore,
        clock: Callable[[], float],
        rig_bench: RigBench | None = None,
        on_change: Callable[[], None] | None = None,
    ):
        self.store = store
        self.clock = clock
        self.rig_bench = rig_bench
        self.on_change = on_change  # new rows stored: what was estimated without them is stale

    async def find(self, card: str | None, runtime: str | None, rig: str | None) -> list[Measurement]:
        return await anyio.to_thread.run_sync(
            lambda: self.store.list(card_key=card, runtime=runtime, rig=rig)
        )

    async def add(self, rows: Sequence[Measurement]) -> list[Measurement]:
        """Validate every row first (one bad row: 400, nothing stored), then store all at once."""
        # Off the event loop: checking thousands of rows against the catalogs takes a while.
        await anyio.to_thread.run_sync(lambda: validate_measurements(rows))
        now = self.clock()
        dated = [r if r.measured_at else _with_time(r, now) for r in rows]
        stored = await anyio.to_thread.run_sync(lambda: self.store.add(dated))
        if self.on_change is not None:
            self.on_change()
        return stored

    async def bench_rig(
        self, rig: str, runtime: str | None, threads: int | None, models: list[str] | None = None
    ) -> list[Measurement]:
        if self.rig_bench is None:
            raise Conflict(
                "this server has no cluster to reach rig agents through; run `rigshift bench` on the rig",
                code="no_cluster",
            )
        bench = self.rig_bench
        rows = await anyio.to_thread.run_sync(lambda: bench(rig, runtime, threads, models))
        return await self.add([_with_rig(r, rig) for r in rows])


def _with_time(row: Measurement, now: float) -> Measurement:
    from dataclasses import replace

    return replace(row, measured_at=now)


def _with_rig(row: Measurement, rig: str) -> Measurement:
    from dataclasses import replace

    return replace(row, rig=rig, source=row.source if row.source.startswith("agent") else f"agent {rig}")


def ray_rig_bench(timeout_s: float = 900.0) -> RigBench:
    """Bench a rig by a Ray task pinned to its agent's node (label selector on the rig name)."""

    def bench(
        rig: str, runtime: str | None, threads: int | None, models: list[str] | None = None
    ) -> list[Measurement]:
        import ray

        from rigshift.run.agent import bench_on_this_rig
        from rigshift.run.labels import LABEL_RIG, label_value

        if not ray.is_initialized():  # never start a Ray of our own here: the server joins its cluster
            raise Conflict("this server is not connected to a Ray cluster", code="no_cluster")
        wanted = label_value(rig)
        if not any(
            node.get("Alive") and (node.get("Labels") or {}).get(LABEL_RIG) == wanted for node in ray.nodes()
        ):  # a task pinned to a rig that is not there would wait for it forever
            raise NotFound(f"no rig {rig!r} in the cluster (its agent is not connected)", param="rig")
        task: Any = ray.remote(bench_on_this_rig)
        ref = task.options(num_cpus=0, label_selector={LABEL_RIG: label_value(rig)}, max_retries=0).remote(
            rig, runtime, threads, models
        )
        try:
            rows = ray.get(ref, timeout=timeout_s)
        except ray.exceptions.GetTimeoutError:
            ray.cancel(ref, force=True)
            raise BackendError(f"rig {rig}: no bench result in {timeout_s:g} s") from None
        except ray.exceptions.RayTaskError as error:
            raise BackendError(f"rig {rig}: bench failed: {str(error.cause)[:500]}") from None
        return [Measurement.from_json(r) for r in rows]

    return bench
