"""Stopping a replica drains it first: out of rotation at once, stopped when nothing is in flight."""

from __future__ import annotations

from rigshift.run.manager import ReplicaManager

from .test_manager import FakeCluster, specs


def test_removed_replica_leaves_rotation_then_stops_when_idle() -> None:
    cluster = FakeCluster({"rig-a": ()})
    in_flight = {"chat-1": 2}
    now = [100.0]
    manager = ReplicaManager(cluster, clock=lambda: now[0], in_flight=lambda rid: in_flight.get(rid, 0))
    manager.apply(specs(2))
    manager.tick()
    manager.apply(specs(1))  # chat-1 leaves the plan while two requests are in flight there
    manager.tick()
    assert [e.replica_id for e in manager.directory().ready_replicas("chat")] == ["chat-0"]
    assert cluster.stopped == []  # still serving its two requests
    now[0] += 5
    in_flight["chat-1"] = 0
    manager.tick()
    assert cluster.stopped == ["chat-1"]


def test_drain_gives_up_after_its_timeout() -> None:
    cluster = FakeCluster({"rig-a": ()})
    now = [0.0]
    manager = ReplicaManager(cluster, clock=lambda: now[0], in_flight=lambda rid: 1, drain_timeout_s=30)
    manager.apply(specs(1))
    manager.tick()
    manager.apply([])
    manager.tick()
    assert cluster.stopped == []
    now[0] = 31
    manager.tick()
    assert cluster.stopped == ["chat-0"]


def test_hold_and_release_for_the_energy_policy() -> None:
    cluster = FakeCluster({"rig-a": ()})
    in_flight = {"chat-2": 1}
    manager = ReplicaManager(cluster, clock=lambda: 0.0, in_flight=lambda rid: in_flight.get(rid, 0))
    manager.apply(specs(3))
    manager.tick()
    manager.hold(["chat-2"], "demand response ev-1")
    manager.tick()
    listed = {e.replica_id: e for e in manager.directory().replicas()}
    assert listed["chat-2"].state == "draining" and "chat-2" not in cluster.stopped
    assert sorted(e.replica_id for e in manager.directory().ready_replicas("chat")) == ["chat-0", "chat-1"]
    in_flight["chat-2"] = 0
    manager.tick()
    assert cluster.stopped == ["chat-2"]
    listed = {e.replica_id: e for e in manager.directory().replicas()}
    assert listed["chat-2"].state == "stopped" and listed["chat-2"].labels["held"] == "demand response ev-1"
    assert len(manager.desired) == 3  # the plan is unchanged
    manager.release()
    manager.tick()
    assert cluster.started.count("chat-2") == 2
    assert sorted(e.replica_id for e in manager.directory().ready_replicas("chat")) == [
        "chat-0",
        "chat-1",
        "chat-2",
    ]
