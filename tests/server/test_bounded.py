"""Bounded everything (issue 13): metric labels, telemetry per rig, SQLite locks off the loop."""

from __future__ import annotations

import sqlite3
import threading
import time

import httpx
import pytest

from rigshift.server.stores.telemetry import TelemetryStore
from rigshift.server.stores.usage import UsageStore

from .conftest import JOIN_TOKEN, replica

CHAT = [{"role": "user", "content": "hi"}]


def test_client_chosen_model_names_never_become_metric_labels(backends, gateway):
    gw = gateway([replica("r1", backends().url)])
    limited = gw.key("limited", rate_limit_rpm=1)
    headers = {"authorization": f"Bearer {limited}"}
    before = len(httpx.get(gw.url + "/metrics").content)
    for i in range(300):
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
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not TelemetryStore(gw.engine).load():
        time.sleep(0.05)
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

    workers = [threading.Thread(target=request) for _ in range(5)]
    try:
        for w in workers:
            w.start()
        time.sleep(0.3)  # the requests are now waiting for the lock
        slowest = 0.0
        for _ in range(10):
            started = time.perf_counter()
            assert httpx.get(gw.url + "/healthz", timeout=10).status_code == 200
            slowest = max(slowest, time.perf_counter() - started)
        # Before, each waiting request blocked the event loop for its 2 s busy timeout in turn.
        assert slowest < 1.0, f"/healthz took {slowest:.2f} s while SQLite was locked (was 5.3 s)"
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
