"""A new adapter reaches a running replica without cutting its in-flight requests."""

from __future__ import annotations

import json

from rigshift.run.adapter_placement import ADAPTERS_LABEL, place_adapters
from rigshift.run.manager import ReplicaManager
from rigshift.run.spec import AdapterRef, ModelSource

from .test_manager import FakeCluster, specs


def test_the_replica_is_drained_then_restarted_with_the_adapter() -> None:
    cluster = FakeCluster({"rig-a": ()})
    in_flight = {"chat-0": 3}
    now = [100.0]
    manager = ReplicaManager(cluster, clock=lambda: now[0], in_flight=lambda rid: in_flight.get(rid, 0))
    manager.apply(specs(1))
    manager.tick()
    adapter = AdapterRef("ft:chat:k::1", ModelSource("store", "adapter-1.gguf", "ab"))
    manager.apply(place_adapters(manager.desired, [("chat", adapter)]))  # the upload's re-plan
    manager.tick()
    assert cluster.stopped == []  # three requests still running there: it drains first
    assert manager.directory().ready_replicas("chat") == []  # and gets nothing new meanwhile
    in_flight["chat-0"] = 0
    now[0] += 1
    manager.tick()
    manager.tick()
    assert cluster.stopped == ["chat-0"] and cluster.started.count("chat-0") == 2
    [endpoint] = manager.directory().ready_replicas("chat")
    assert json.loads(endpoint.labels[ADAPTERS_LABEL]) == ["ft:chat:k::1"]
