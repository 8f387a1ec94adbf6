"""Telemetry ingest (join-token auth, validation, persistence) and the Prometheus endpoint."""

from __future__ import annotations

import time

import httpx

from rigshift.server.stores.telemetry import TelemetryStore

from .conftest import JOIN_TOKEN, replica

REPORT = {
    "rig": "rig-a",
    "timestamp": 1.0,
    "gpus": [
        {
            "index": 0,
            "model": "rtx-3060-12g",
            "temperature_c": 61.0,
            "power_w": 140.0,
            "memory_used_gib": 5.5,
            "memory_used_by_others_gib": 1.5,
        },
        {"index": 1, "model": "rtx-3060-12g", "temperature_c": 58.0, "power_w": 120.0},
    ],
}


def test_telemetry_needs_the_join_token(gateway):
    gw = gateway([])
    url = gw.url + "/internal/telemetry"
    assert httpx.post(url, json=REPORT).status_code == 401
    assert httpx.post(url, json=REPORT, headers={"authorization": "Bearer wrong"}).status_code == 401
    assert httpx.post(url, json=REPORT, headers={"authorization": f"Bearer {JOIN_TOKEN}"}).status_code == 204


def test_bad_telemetry_names_the_field(gateway):
    gw = gateway([])
    bad = {**REPORT, "gpus": [{"index": "zero"}]}
    r = httpx.post(
        gw.url + "/internal/telemetry", json=bad, headers={"authorization": f"Bearer {JOIN_TOKEN}"}
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "$.gpus[0].index"


def test_telemetry_is_exported_as_metrics_and_persisted(gateway, backends):
    backend = backends()
    gw = gateway([replica("r1", backend.url)])
    headers = {"authorization": f"Bearer {JOIN_TOKEN}"}
    assert httpx.post(gw.url + "/internal/telemetry", json=REPORT, headers=headers).status_code == 204
    key = gw.key()
    gw.client(key).chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}])

    text = httpx.get(gw.url + "/metrics").text
    assert 'rigshift_gpu_power_w{gpu="0",model="rtx-3060-12g",rig="rig-a"} 140.0' in text
    assert 'rigshift_gpu_memory_used_by_others_gib{gpu="0",model="rtx-3060-12g",rig="rig-a"} 1.5' in text
    assert 'rigshift_replica_state{model="tiny",replica="r1",rig="rig-a",state="ready"} 1.0' in text
    assert 'rigshift_requests_total{endpoint="chat",model="tiny",status="200"} 1.0' in text
    assert 'rigshift_tokens_total{kind="completion",model="tiny"} 5.0' in text
    assert "rigshift_request_duration_seconds_bucket" in text

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not TelemetryStore(gw.engine).load():
        time.sleep(0.05)  # the flusher runs every 0.2 s in tests
    ((_received_at, stored),) = TelemetryStore(gw.engine).load()
    assert stored.rig == "rig-a" and [g.power_w for g in stored.gpus] == [140.0, 120.0]

    # A restarted server knows the last readings before any agent reports again.
    restarted = gateway([])
    assert (
        'rigshift_gpu_power_w{gpu="1",model="rtx-3060-12g",rig="rig-a"} 120.0'
        in httpx.get(restarted.url + "/metrics").text
    )


def test_agents_learn_the_ray_address_with_the_join_token(engine):
    from rigshift.server.app import create_app
    from rigshift.server.serving import serve_in_thread
    from rigshift.server.settings import ServerSettings
    from rigshift.server.static_directory import StaticDirectory

    app = create_app(
        StaticDirectory([]), ServerSettings(join_token=JOIN_TOKEN), engine=engine, ray_address="10.0.0.2:6380"
    )
    server = serve_in_thread(app)
    try:
        url = server.url + "/internal/cluster"
        assert httpx.get(url, headers={"authorization": f"Bearer {JOIN_TOKEN}"}).json() == {
            "ray_address": "10.0.0.2:6380"
        }
        assert httpx.get(url, headers={"authorization": "Bearer nope"}).status_code == 401
    finally:
        server.stop()
