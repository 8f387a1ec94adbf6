"""Where a batch line may run: only on a free slot, of the least busy replica, where batch is allowed.

A real gateway over a fixed directory and a real SQLite store; the replicas' load is what the
gateway itself counts (`router.acquire`), as when interactive requests are in flight.
"""

from __future__ import annotations

from rigshift.run.contracts import ReplicaEndpoint
from rigshift.server.batch_dispatch import GatewayDispatcher
from rigshift.server.gateway import Gateway
from rigshift.server.metrics import Metrics
from rigshift.server.services.keys import KeysService
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.keys import KeyStore
from rigshift.server.stores.usage import UsageStore


def replica(replica_id: str, rig: str, slots: int) -> ReplicaEndpoint:
    return ReplicaEndpoint(
        replica_id, "tiny", "tiny", f"http://127.0.0.1:1/{replica_id}", rig, state="ready", max_parallel=slots
    )


def dispatcher_over(engine, replicas: list[ReplicaEndpoint]) -> GatewayDispatcher:
    keys = KeysService(KeyStore(engine), clock=lambda: 0.0)
    gateway = Gateway(StaticDirectory(replicas), keys, UsageStore(engine), Metrics(), ServerSettings())
    return GatewayDispatcher(gateway, keys)


def busy(dispatcher: GatewayDispatcher, replica_id: str, requests: int) -> None:
    for _ in range(requests):
        dispatcher.gateway.router.acquire(replica_id)


def test_a_line_takes_the_least_busy_replica_with_a_free_slot(engine):
    dispatcher = dispatcher_over(engine, [replica("a", "rig-a", 4), replica("b", "rig-b", 2)])
    busy(dispatcher, "a", 3)  # 3 of 4 slots
    busy(dispatcher, "b", 1)  # 1 of 2
    assert dispatcher.spare_replica("tiny").replica_id == "b"
    busy(dispatcher, "b", 1)  # b full: a's last slot is the only free one
    assert dispatcher.spare_replica("tiny").replica_id == "a"


def test_no_line_runs_when_every_slot_is_taken_even_if_queues_have_room(engine):
    dispatcher = dispatcher_over(engine, [replica("a", "rig-a", 2)])
    busy(dispatcher, "a", 2)  # the gateway's queue (queue_factor) is left to interactive requests
    assert dispatcher.spare_replica("tiny") is None
    assert dispatcher.spare_replica("another-model") is None


def test_a_line_runs_only_where_the_energy_policy_allows_batch(engine):
    dispatcher = dispatcher_over(engine, [replica("a", "rig-a", 4), replica("b", "rig-b", 4)])
    busy(dispatcher, "a", 3)
    dispatcher.replica_allowed = lambda r: r.rig != "rig-b"  # batch off at rig-b's site now
    assert dispatcher.spare_replica("tiny").replica_id == "a"
    dispatcher.replica_allowed = lambda r: False
    assert dispatcher.spare_replica("tiny") is None


def test_a_line_for_a_capability_the_model_lacks_is_final_and_unbilled(engine):
    import asyncio
    import json
    import time
    from dataclasses import replace

    chat_only = replace(replica("a", "rig-a", 4), capabilities=("chat", "completion"))
    dispatcher = dispatcher_over(engine, [chat_only])
    key, _secret = KeyStore(engine).create("tenant", now=time.time())
    line = json.dumps({"model": "tiny", "input": "x"}).encode()
    result = asyncio.run(dispatcher.run_line(key, "embeddings", line))
    assert result.status_code == 400 and not result.retry_later and result.usage is None
    assert json.loads(result.body)["error"]["code"] == "model_capability_missing"
    assert dispatcher.gateway.router.outstanding.get("a", 0) == 0
