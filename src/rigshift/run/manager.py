"""Keep the running replicas equal to the plan, and tell the gateway which ones can serve.

`ReplicaManager.apply(specs)` sets the desired state; `tick()` observes the cluster, re-places
replicas of lost rigs, reconciles, applies the actions and refreshes the snapshot that
`directory()` serves to the gateway. `start()` runs `tick()` every `interval_s` in a thread.

The gateway's hot path (`ready_replicas`) reads an immutable snapshot dict: no Ray call, no lock,
so routing costs nanoseconds whatever the cluster is doing.

Every action is recorded as an `ActionRecord` with its reason (kept in memory, and passed to
`on_action` so the control plane can store them).

Stopping drains first: a replica leaving the plan (or held by the energy policy, `hold()`) is
taken out of routing at once, and its backend is stopped only when the gateway has no request in
flight there (`in_flight`), or after `drain_timeout_s`, so no request is cut off.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from rigshift.errors import RigshiftError
from rigshift.run.adapter_placement import adapter_label
from rigshift.run.capabilities import spec_capabilities
from rigshift.run.contracts import ReplicaEndpoint, ReplicaState
from rigshift.run.reconcile import Action, ObservedReplica, RigCapacity, reconcile, replace_lost
from rigshift.run.spec import ReplicaSpec
from rigshift.ticker import Ticker

log = logging.getLogger(__name__)


class ClusterPort(Protocol):
    """What the manager needs from a cluster (Ray in production, a fake in unit tests)."""

    def live_rigs(self) -> dict[str, RigCapacity]: ...

    def observe(self) -> tuple[list[ObservedReplica], dict[str, dict[str, Any]]]: ...

    def start(self, spec: ReplicaSpec) -> None: ...

    def stop(self, replica_id: str) -> None: ...

    def kill_backend(self, replica_id: str) -> int | None: ...

    def check_now(self, replica_id: str) -> None: ...


@dataclass(frozen=True)
class ActionRecord:
    at: float  # unix time
    kind: str
    replica_id: str
    reason: str
    rig: str | None
    from_rig: str | None
    outcome: str  # "ok" or the error


class ReplicaManager:
    def __init__(
        self,
        cluster: ClusterPort,
        *,
        on_action: Callable[[ActionRecord], None] | None = None,
        clock: Callable[[], float] = time.time,
        interval_s: float = 1.0,
        history: int = 1000,
        in_flight: Callable[[str], int] | None = None,
        drain_timeout_s: float = 120.0,
    ) -> None:
        self.cluster = cluster
        self.on_action = on_action
        self.clock = clock
        self.interval_s = interval_s
        self._history = history
        self._lock = threading.Lock()  # serialises ticks and apply()
        self._desired: list[ReplicaSpec] = []
        self._effective: list[ReplicaSpec] = []
        self._snapshot: dict[str, ReplicaEndpoint] = {}
        self._ready_by_model: dict[str, list[ReplicaEndpoint]] = {}  # the gateway's per-request view
        self._suspect: dict[str, float] = {}  # replica id -> when the gateway reported a failure
        self._crashes: dict[str, tuple[int, float]] = {}  # replica id -> (actor deaths in a row, last start)
        self.actions: list[ActionRecord] = []
        self.waiting: list[Action] = []
        self.in_flight = in_flight  # the gateway's count of requests in flight per replica
        self.drain_timeout_s = drain_timeout_s
        self._draining: dict[str, float] = {}  # replica id -> when its drain began
        self._held: dict[str, str] = {}  # replica id -> why it is held down (energy policy)
        # Rig label values an operator drained: a lost rig's replicas are not moved onto them.
        self.avoid_rigs: Callable[[], Collection[str]] = frozenset
        # a failed tick is logged and the next one retries: the loop must outlive any one bad tick
        self._loop = Ticker(
            "replica-manager", self.tick, lambda error: log.exception("reconcile tick failed")
        )

    # --- desired state ----------------------------------------------------------------------

    def apply(self, specs: Sequence[ReplicaSpec]) -> None:
        """Make `specs` the desired state (a new plan); the next tick starts converging."""
        ids = [s.replica_id for s in specs]
        if len(set(ids)) != len(ids):
            raise ValueError("replica ids in a plan must be unique")
        with self._lock:
            self._desired = list(specs)
            self._effective = list(specs)
        self._loop.wake()

    def live_rigs(self) -> dict[str, RigCapacity]:
        """The rigs whose agents are connected now (a plan is checked against them)."""
        return self.cluster.live_rigs()

    @property
    def desired(self) -> list[ReplicaSpec]:
        return list(self._effective)

    def hold(self, replica_ids: Sequence[str], reason: str) -> None:
        """Take replicas down without changing the plan (drained, then stopped); `release` brings
        them back. The energy policy uses this for demand response and price-driven scale-down."""
        with self._lock:
            for rid in replica_ids:
                self._held[rid] = reason
        self._loop.wake()

    def release(self, replica_ids: Sequence[str] | None = None) -> None:
        """Let held replicas run again (all of them when `replica_ids` is None)."""
        with self._lock:
            for rid in list(self._held) if replica_ids is None else replica_ids:
                self._held.pop(rid, None)
        self._loop.wake()

    @property
    def held(self) -> dict[str, str]:
        return dict(self._held)

    def _wanted(self) -> list[ReplicaSpec]:
        return [s for s in self._effective if s.replica_id not in self._held]

    # --- the loop ---------------------------------------------------------------------------

    def tick(self) -> list[ActionRecord]:
        """Observe, re-place, reconcile, act, refresh the snapshot. Returns this tick's actions."""
        with self._lock:
            live = self.cluster.live_rigs()
            self._effective, waits = replace_lost(self._effective, live, self.avoid_rigs())
            observed, infos = self.cluster.observe()
            actions = reconcile(self._wanted(), observed, live)
            now = self.clock()
            # Nothing drains from a rig that left the cluster: its in-flight requests are lost anyway.
            alive = {o.replica_id for o in observed if o.alive and o.rig in live}
            due = [
                a for a in actions if a.kind != "wait" and self._due(a, now) and self._drained(a, alive, now)
            ]
            done = [self._execute(a) for a in due]
            self.waiting = [a for a in actions if a.kind == "wait"] + waits
            if done:  # new actors: look again so the snapshot knows them
                observed, infos = self.cluster.observe()
            self._refresh(infos)
            return done

    def _due(self, action: Action, now: float) -> bool:
        """Back off restarting an actor that keeps dying (1 s, 2 s, 4 s … 60 s), so a replica whose
        constructor crashes does not churn the cluster every tick."""
        if action.kind == "start" and action.reason.startswith("actor died"):
            deaths, last = self._crashes.get(action.replica_id, (0, float("-inf")))
            if now - last < min(60.0, 2.0 ** (deaths - 1)) and deaths:
                return False
            self._crashes[action.replica_id] = (deaths + 1, now)
        elif action.kind in ("start", "move"):
            self._crashes.pop(action.replica_id, None)
        return True

    def _drained(self, action: Action, alive: set[str], now: float) -> bool:
        """May this stop (or move) go ahead? Only once the gateway has nothing in flight there."""
        rid = action.replica_id
        if action.kind not in ("stop", "move") or self.in_flight is None or rid not in alive:
            self._draining.pop(rid, None)
            return True
        began = self._draining.setdefault(rid, now)
        if self.in_flight(rid) > 0 and now - began < self.drain_timeout_s:
            return False  # still serving: out of rotation, stopped at a later tick
        self._draining.pop(rid, None)
        return True

    def _execute(self, action: Action) -> ActionRecord:
        outcome = "ok"
        try:
            if action.kind in ("stop", "move"):
                self.cluster.stop(action.replica_id)
            if action.kind in ("start", "move"):
                assert action.spec is not None
                self.cluster.start(action.spec)
        except (RigshiftError, OSError, RuntimeError) as error:
            outcome = f"failed: {error}"
        record = ActionRecord(
            at=self.clock(),
            kind=action.kind,
            replica_id=action.replica_id,
            reason=action.reason,
            rig=action.spec.rig if action.spec else None,
            from_rig=action.from_rig,
            outcome=outcome,
        )
        log.info("replica %s: %s (%s) -> %s", record.replica_id, record.kind, record.reason, outcome)
        self.actions.append(record)
        del self.actions[: -self._history]
        if self.on_action is not None:
            self.on_action(record)
        return record

    def _refresh(self, infos: dict[str, dict[str, Any]]) -> None:
        snapshot: dict[str, ReplicaEndpoint] = {}
        now = self.clock()
        waiting = {a.replica_id: a.reason for a in self.waiting}
        for spec in self._effective:
            info = infos.get(spec.replica_id)
            if spec.replica_id in self._held or spec.replica_id in self._draining:
                # Out of rotation: held down by the energy policy, or draining before a stop/move.
                labels = {"held": self._held[spec.replica_id]} if spec.replica_id in self._held else {}
                draining = spec.replica_id in self._draining
                state: ReplicaState = "draining" if draining else "stopped"
                url = info["base_url"] if info is not None and draining else ""
                snapshot[spec.replica_id] = self._endpoint(spec, state, url, labels)
                continue
            if info is None or info.get("rig") != spec.rig:
                # Not answering yet (actor being placed, model being copied) or cannot run now:
                # listed for the operator and /metrics, never routed to (no URL, not ready).
                reason = waiting.get(spec.replica_id)
                snapshot[spec.replica_id] = self._endpoint(
                    spec, "stopped" if reason else "starting", "", {"waiting": reason} if reason else {}
                )
                continue
            state = info["state"]
            suspect_at = self._suspect.get(spec.replica_id)
            if suspect_at is not None:
                # Stay out of rotation until the backend answered a health check after the report.
                if state == "ready" and now - suspect_at > 1.0:
                    self._suspect.pop(spec.replica_id, None)
                elif state == "ready":
                    state = "unhealthy"
            labels = {"backend": str(info.get("backend", "")), "restarts": str(info.get("restarts", 0))}
            if info.get("error"):
                labels["error"] = str(info["error"])[:300]
            snapshot[spec.replica_id] = self._endpoint(spec, state, info["base_url"], labels)
        self._publish(snapshot)

    @staticmethod
    def _endpoint(
        spec: ReplicaSpec, state: ReplicaState, base_url: str, labels: dict[str, str]
    ) -> ReplicaEndpoint:
        return ReplicaEndpoint(
            replica_id=spec.replica_id,
            deployment=spec.deployment,
            model=spec.model,
            base_url=base_url,
            rig=spec.rig,
            gpus=tuple(f"{spec.rig}/{i}" for i in spec.gpu_indices),
            state=state,
            max_parallel=spec.parallel,
            context=spec.context,
            watts=spec.watts,
            labels=labels | adapter_label(spec),
            capabilities=spec_capabilities(spec),
        )

    def _publish(self, snapshot: dict[str, ReplicaEndpoint]) -> None:
        """Swap in a new snapshot and its ready-by-model index; readers never see a half-built one."""
        ready: dict[str, list[ReplicaEndpoint]] = {}
        for endpoint in snapshot.values():
            if endpoint.state == "ready":
                ready.setdefault(endpoint.model, []).append(endpoint)
        self._snapshot, self._ready_by_model = snapshot, ready

    def start(self) -> None:
        self._loop.start(self.interval_s)

    def close(self, stop_replicas: bool = False) -> None:
        """Stop the loop; with `stop_replicas`, also stop every replica (else they keep serving)."""
        self._loop.stop(join_s=30)
        if stop_replicas:
            with self._lock:
                for spec in self._effective:
                    self.cluster.stop(spec.replica_id)
                self._publish({})

    # --- views --------------------------------------------------------------------------------

    def replicas(self) -> list[ReplicaEndpoint]:
        return list(self._snapshot.values())

    def wait_ready(self, count: int | None = None, timeout_s: float = 60.0, model: str | None = None) -> bool:
        """Block until `count` replicas (default: all desired) of `model` (default: any) are ready."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            wanted = [s for s in self._effective if model is None or s.model == model]
            need = len(wanted) if count is None else count
            ready = [
                e
                for e in self._snapshot.values()
                if e.state == "ready" and (model is None or e.model == model)
            ]
            if len(ready) >= need and need > 0:
                return True
            self._loop.wake()
            time.sleep(0.2)
        return False

    def kill_backend(self, replica_id: str) -> int | None:
        """Failure drill: kill a replica's backend process as a crash would."""
        return self.cluster.kill_backend(replica_id)

    def directory(self) -> ManagedDirectory:
        return ManagedDirectory(self)

    def report_failure(self, replica_id: str, error: str) -> None:
        self._suspect[replica_id] = self.clock()
        current = self._snapshot.get(replica_id)
        if current is not None and current.state == "ready":
            snapshot = dict(self._snapshot)
            snapshot[replica_id] = replace(current, state="unhealthy")
            self._publish(snapshot)
        log.warning("gateway reported replica %s failing: %s", replica_id, error)
        with contextlib.suppress(Exception):  # best effort; the loop will look anyway
            self.cluster.check_now(replica_id)
        self._loop.wake()


class ManagedDirectory:
    """`ReplicaDirectory` over a manager's snapshot (what the gateway is given)."""

    def __init__(self, manager: ReplicaManager) -> None:
        self._manager = manager

    def models(self) -> list[str]:
        return sorted({s.model for s in self._manager.desired})

    def ready_replicas(self, model: str) -> list[ReplicaEndpoint]:
        return list(self._manager._ready_by_model.get(model, ()))

    def replicas(self) -> list[ReplicaEndpoint]:
        """Every desired replica in any state (for /admin/replicas and /metrics)."""
        return self._manager.replicas()

    def report_failure(self, replica_id: str, error: str) -> None:
        self._manager.report_failure(replica_id, error)
