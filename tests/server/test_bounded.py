"""Bounded everything (issue 13): metric labels, telemetry per rig, SQLite locks off the loop."""

from __future__ import annotations

import sqlite3
import threading

import httpx
import pytest

from rigshift.server.stores.telemetry import TelemetryStore
from rigshift.server.stores.usage import UsageStore
from waiting import wait_until

from .conftest import JOIN_TOKEN, replica

CHAT = [{"role": "user", "content": "hi"}]


def test_client_chosen_model_names_never_become_metric_labels(backends, gateway):
    gw = gateway([replica("r1", backends().url)])
    limited = gw.key("limited", rate_limit_rpm=1)
    headers = {"authorization": f"Bearer {limited}"}
    before = len(httpx.get(gw.url + "/metrics").content)
    for i in range(50):  # 50 names of 200+ characters: 10 KB+ of labels per metric if they leaked
        r = httpx.post(
            gw.url + "/v1/chat/completions",
            json={"model": f"made-up-{i}-" + "x" * 200, "messages": CHAT},
            headers=headers,
        )
        assert r.status_code in (429, 404)
    text = httpx.get(gw.url + "/metrics").text
    assert "made-up" not in text
    assert len(text) < before + 5_000  # was 7 KB -> 59.7 MB


def test_one_rig_with_duplicate_gpu_indices_cannot_stop_the_others_persisting(gateway):
    gw = gateway([])
    headers = {"authorization": f"Bearer {JOIN_TOKEN}"}
    good = {"rig": "rig-good", "timestamp": 1.0, "gpus": [{"index": 0, "power_w": 100.0}]}
    bad = {"rig": "rig-bad", "timestamp": 1.0, "gpus": [{"index": 0}, {"index": 0}]}
    refused = httpx.post(gw.url + "/internal/telemetry", json=bad, headers=headers)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "duplicate_gpu_index"
    assert httpx.post(gw.url + "/internal/telemetry", json=good, headers=headers).status_code == 204
    wait_until(lambda: TelemetryStore(gw.engine).load(), "the good rig's telemetry to be flushed")
    assert [r.rig for _, r in TelemetryStore(gw.engine).load()] == ["rig-good"]


def test_healthz_stays_fast_while_another_process_holds_the_sqlite_write_lock(backends, gateway, engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("a SQLite write lock is what this test holds")
    gw = gateway([replica("r1", backends().url, parallel=8)])
    key = gw.key()
    client = gw.client(key)
    client.chat.completions.create(model="tiny", messages=CHAT)  # warm: the inline connection exists
    path = engine.url.database
    locker = sqlite3.connect(path, timeout=0, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # an external write lock, as a backup tool or a stuck script holds
    statuses: list[int] = []

    def request() -> None:
        r = httpx.post(
            gw.url + "/v1/chat/completions",
            json={"model": "tiny", "messages": CHAT},
            headers={"authorization": f"Bearer {key}"},
            timeout=60,
        )
        statuses.append(r.status_code)

    writer = gw.server.server.config.app.state.ctx.gateway.writer
    workers = [threading.Thread(target=request) for _ in range(5)]
    try:
        for w in workers:
            w.start()
        # A request met the lock and its record went to the worker thread, where it waits.
        wait_until(lambda: writer.degraded, "a usage write to meet the lock")
        # The event loop is free meanwhile: /healthz answers while the lock is still held and
        # every request is still waiting for it. Before, each waiting request blocked the loop
        # for its 2 s busy timeout in turn, then failed with 503 (so `statuses` filled up).
        for _ in range(10):
            assert httpx.get(gw.url + "/healthz", timeout=30).status_code == 200
        assert writer.degraded
        assert statuses == []  # nobody was answered before their usage could be stored
    finally:
        locker.execute("COMMIT")
        locker.close()
    for w in workers:
        w.join()
    assert statuses == [200] * 5
    assert UsageStore(engine).count() == 6
    client.chat.completions.create(model="tiny", messages=CHAT)  # and back to the fast path
    assert UsageStore(engine).count() == 7
    assert gw.server.server.config.app.state.ctx.gateway.writer.degraded is False
