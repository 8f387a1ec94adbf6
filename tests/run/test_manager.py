"""ReplicaManager over an in-memory cluster: convergence, action log, lost rigs, directory."""

from __future__ import annotations

import itertools
from typing import Any

from rigshift.run.manager import ReplicaManager
from rigshift.run.reconcile import ObservedReplica, RigCapacity
from rigshift.run.spec import ModelSource, ReplicaSpec

SRC = ModelSource("demo", "hi there")


class FakeCluster:
    def __init__(self, rigs: dict[str, tuple[str, ...]]) -> None:
        self.rigs = dict(rigs)
        self.actors: dict[str, dict[str, Any]] = {}
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.checked: list[str] = []

    def live_rigs(self) -> dict[str, RigCapacity]:
        return {r: RigCapacity(r, g) for r, g in self.rigs.items()}

    def observe(self) -> tuple[list[ObservedReplica], dict[str, dict[str, Any]]]:
        observed, infos = [], {}
        for rid, a in self.actors.items():
            alive = a["rig"] in self.rigs and not a.get("dead")
            observed.append(ObservedReplica(rid, a["rig"], a["fingerprint"], alive, a["state"]))
            if alive:
                infos[rid] = a
        return observed, infos

    def start(self, spec: ReplicaSpec) -> None:
        self.started.append(spec.replica_id)
        self.actors[spec.replica_id] = {
            "rig": spec.rig,
            "fingerprint": spec.fingerprint(),
            "state": "ready",
            "base_url": f"http://127.0.0.1:{9000 + len(self.started)}",
            "backend": "fake",
            "restarts": 0,
        }

    def stop(self, replica_id: str) -> None:
        self.stopped.append(replica_id)
        self.actors.pop(replica_id, None)

    def kill_backend(self, replica_id: str) -> int | None:
        self.actors[replica_id]["state"] = "unhealthy"
        return 1

    def check_now(self, replica_id: str) -> None:
        self.checked.append(replica_id)


def specs(n: int, rig: str = "rig-a", model: str = "chat") -> list[ReplicaSpec]:
    return [ReplicaSpec(f"{model}-{i}", model, model, SRC, rig, parallel=4) for i in range(n)]


def test_apply_then_tick_starts_everything_and_logs_why() -> None:
    cluster = FakeCluster({"rig-a": ()})
    seen = []
    manager = ReplicaManager(cluster, on_action=seen.append, clock=lambda: 100.0)
    manager.apply(specs(2))
    done = manager.tick()
    assert [(r.kind, r.replica_id, r.reason, r.outcome) for r in done] == [
        ("start", "chat-0", "new in plan", "ok"),
        ("start", "chat-1", "new in plan", "ok"),
    ]
    assert seen == done
    assert manager.tick() == []  # converged
    ready = manager.directory().ready_replicas("chat")
    assert sorted(e.replica_id for e in ready) == ["chat-0", "chat-1"]
    assert ready[0].max_parallel == 4
    assert manager.directory().models() == ["chat"]


def test_new_plan_stops_what_is_gone() -> None:
    cluster = FakeCluster({"rig-a": ()})
    manager = ReplicaManager(cluster)
    manager.apply(specs(2))
    manager.tick()
    manager.apply(specs(1))
    done = manager.tick()
    assert [(r.kind, r.replica_id) for r in done] == [("stop", "chat-1")]
    assert [e.replica_id for e in manager.replicas()] == ["chat-0"]


def test_lost_rig_replicas_are_replaced_on_live_rigs() -> None:
    cluster = FakeCluster({"rig-a": (), "rig-b": ()})
    manager = ReplicaManager(cluster)
    manager.apply([*specs(1, "rig-a"), ReplicaSpec("chat-9", "chat", "chat", SRC, "rig-b")])
    manager.tick()
    del cluster.rigs["rig-b"]  # the node left the cluster
    done = manager.tick()
    assert [(r.kind, r.replica_id, r.rig, r.reason) for r in done] == [
        ("start", "chat-9", "rig-a", "rig rig-b lost"),
    ]
    assert {e.rig for e in manager.directory().ready_replicas("chat")} == {"rig-a"}


def test_unhealthy_backends_are_not_routed_and_failures_are_reported() -> None:
    cluster = FakeCluster({"rig-a": ()})
    now = [0.0]
    manager = ReplicaManager(cluster, clock=lambda: now[0])
    manager.apply(specs(2))
    manager.tick()
    directory = manager.directory()
    directory.report_failure("chat-0", "connection refused")
    assert [e.replica_id for e in directory.ready_replicas("chat")] == ["chat-1"]
    assert cluster.checked == ["chat-0"]
    manager.tick()  # backend says ready again, but too soon after the report to trust it
    assert [e.replica_id for e in directory.ready_replicas("chat")] == ["chat-1"]
    now[0] = 5.0
    manager.tick()
    assert len(directory.ready_replicas("chat")) == 2
    cluster.kill_backend("chat-1")
    manager.tick()
    assert [e.replica_id for e in directory.ready_replicas("chat")] == ["chat-0"]


def test_failed_start_is_recorded_not_raised() -> None:
    class Broken(FakeCluster):
        def start(self, spec: ReplicaSpec) -> None:
            raise RuntimeError("no capacity")

    manager = ReplicaManager(Broken({"rig-a": ()}))
    manager.apply(specs(1))
    [record] = manager.tick()
    assert record.outcome == "failed: no capacity"
    [listed] = manager.directory().replicas()
    assert (listed.state, listed.base_url) == ("starting", "")  # shown to the operator ...
    assert manager.directory().ready_replicas("chat") == []  # ... never routed to


def test_replicas_that_cannot_run_are_listed_as_waiting() -> None:
    cluster = FakeCluster({"rig-a": ()})
    manager = ReplicaManager(cluster)
    manager.apply([ReplicaSpec("gpu-0", "chat", "chat", SRC, "rig-b", gpu_indices=(0,), gpu_models=("x",))])
    assert manager.tick() == []
    [listed] = manager.replicas()
    assert listed.state == "stopped"
    assert "no live rig can take it" in listed.labels["waiting"]


def test_an_actor_that_keeps_dying_is_restarted_with_backoff() -> None:
    cluster = FakeCluster({"rig-a": ()})
    now = [0.0]
    manager = ReplicaManager(cluster, clock=lambda: now[0])
    manager.apply(specs(1))
    manager.tick()
    starts = []
    for step in range(40):  # 10 s in 0.25 s ticks, the actor dying right after each start
        now[0] = step * 0.25
        cluster.actors["chat-0"]["dead"] = True
        if any(r.kind == "start" for r in manager.tick()):
            starts.append(now[0])
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert starts[0] == 0.0
    assert gaps == sorted(gaps) and gaps[-1] >= 4  # 1, 2, 4, 8 s apart: never every tick
    assert len(starts) <= 5
