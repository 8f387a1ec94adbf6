"""`/admin/measurements`: admin-only, rows checked against the catalogs, one bad row stores none;
benching a rig goes through its agent (a fake at the seam here; no cluster: 409)."""

from __future__ import annotations

import anyio
import httpx
import pytest

from rigshift.measure.store import MeasurementStore
from rigshift.measure.types import Measurement
from rigshift.server.services.measurements import MeasurementsService
from rigshift.server.stores.keys import KeyStore

ROW = {
    "card_key": "radeon-rx-570-8gb",
    "card_name": "AMD Radeon RX 570 Series",
    "runtime": "llama.cpp-vulkan",
    "model_key": "llama-3.1-8b",
    "quant": "Q4_0",
    "n_prompt": 0,
    "n_gen": 128,
    "tokens_per_s": 14.02,
    "stddev_tokens_per_s": 0.05,
    "rig": "rig-01",
}


@pytest.fixture
def api(gateway, engine):  # type: ignore[no-untyped-def]
    g = gateway([])
    _k, admin = KeyStore(engine).create("admin", now=1.0, admin=True)
    tenant = g.key("tenant")

    def call(method: str, path: str, key: str | None = admin, **kw: object) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        return httpx.request(method, g.url + path, headers=headers, timeout=30, **kw)  # type: ignore[arg-type]

    call.tenant = tenant  # type: ignore[attr-defined]
    return call


def test_admin_adds_and_lists_measurements(api):  # type: ignore[no-untyped-def]
    assert api("GET", "/admin/measurements").json()["data"] == []
    created = api(
        "POST",
        "/admin/measurements",
        json={
            "data": [
                {**ROW, "samples_tokens_per_s": [14.07, 13.97]},
                {**ROW, "n_gen": 0, "n_prompt": 512, "tokens_per_s": 152.3},
            ]
        },
    )
    assert created.status_code == 201, created.text
    rows = api("GET", "/admin/measurements", params={"card": "radeon-rx-570-8gb"}).json()["data"]
    assert [(r["test"], r["tokens_per_s"], r["rig"], r["samples_tokens_per_s"]) for r in rows] == [
        ("tg128", 14.02, "rig-01", [14.07, 13.97]),
        ("pp512", 152.3, "rig-01", []),
    ]
    assert all(r["measured_at"] > 0 for r in rows)  # dated by the server when the client did not
    assert api("GET", "/admin/measurements", params={"runtime": "llama.cpp-cuda"}).json()["data"] == []


def test_tenants_and_strangers_are_refused(api):  # type: ignore[no-untyped-def]
    assert api("GET", "/admin/measurements", key=api.tenant).status_code == 403
    assert api("POST", "/admin/measurements", key=None, json={"data": [ROW]}).status_code == 401


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"card_key": "radeon-rx-507-8gb"}, "radeon-rx-570-8gb"),
        ({"model_key": "lama-3.1-8b"}, "llama-3.1-8b"),
        ({"quant": "Q4_K_X"}, "quant"),
        ({"runtime": "llama.cpp-vulkn"}, "runtime"),
        ({"n_prompt": 0, "n_gen": 0}, "n_prompt"),
        ({"samples_tokens_per_s": [14.0, -1.0]}, "samples_tokens_per_s"),
    ],
)
def test_one_bad_row_is_a_400_and_stores_nothing(api, change, needle):  # type: ignore[no-untyped-def]
    response = api("POST", "/admin/measurements", json={"data": [ROW, {**ROW, **change}]})
    assert response.status_code == 400, response.text
    assert needle in response.json()["error"]["message"]
    assert api("GET", "/admin/measurements").json()["data"] == []


def test_non_finite_rates_are_refused(api):  # type: ignore[no-untyped-def]
    body = b'{"data": [{"card_key": "tesla-p40", "card_name": "P40", "runtime": "llama.cpp-cuda", "model_key": "llama-3.1-8b", "quant": "Q4_0", "n_prompt": 0, "n_gen": 128, "tokens_per_s": NaN}]}'
    assert api("POST", "/admin/measurements", content=body).status_code == 400


def test_bench_without_a_cluster_is_a_409(api):  # type: ignore[no-untyped-def]
    response = api("POST", "/admin/measurements/bench", json={"rig": "rig-01"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "no_cluster"


def test_benching_a_rig_stores_its_agents_rows(engine):  # type: ignore[no-untyped-def]
    asked = []

    def fake_agent(
        rig: str, runtime: str | None, threads: int | None, models: list[str] | None = None
    ) -> list[Measurement]:
        asked.append((rig, runtime, threads))
        return [Measurement(**{**ROW, "rig": None, "source": "bench"})]  # type: ignore[arg-type]

    service = MeasurementsService(MeasurementStore(engine), lambda: 5.0, fake_agent)
    rows = anyio.run(service.bench_rig, "rig-07", "llama.cpp-vulkan", None)
    assert asked == [("rig-07", "llama.cpp-vulkan", None)]
    assert [(r.rig, r.source, r.measured_at) for r in rows] == [("rig-07", "agent rig-07", 5.0)]
    assert MeasurementStore(engine).list(rig="rig-07") == rows


def test_ten_thousand_bad_rows_are_refused_with_a_bounded_answer(api):  # type: ignore[no-untyped-def]
    """Regression (found by the schema fuzzer): 10,000 rows with unknown names kept the server
    computing a did-you-mean per row past the client's 30 s timeout. Names are checked once per
    distinct set and the answer stops at 20 problems."""
    rows = [{**ROW, "card_key": f"card-{i % 7}"} for i in range(10_000)]
    refused = api("POST", "/admin/measurements", json={"data": rows})
    assert refused.status_code == 400
    message = refused.json()["error"]["message"]
    assert "unknown card 'card-0'" in message and message.count("data[") <= 20
    assert api("GET", "/admin/measurements").json()["data"] == []


def test_benching_through_ray_refuses_instead_of_waiting_forever() -> None:
    """Regression (the schema fuzzer hung on it): without a connected cluster, or without the
    rig's agent in it, the Ray bench answered nothing: it started a Ray of its own and waited
    for a task pinned to a rig that was not there. Now: 409 no cluster, or 404 no such rig."""
    from rigshift.server.errors import Conflict, NotFound
    from rigshift.server.services.measurements import ray_rig_bench

    with pytest.raises((Conflict, NotFound)):
        ray_rig_bench(timeout_s=5)("no-such-rig", None, None)


def test_a_rate_far_above_the_cards_roofline_is_refused_and_moves_no_estimate(api, engine):  # type: ignore[no-untyped-def]
    """Regression (adversarial run): one admin row of 10,000,000 tok/s for an RTX 3060 was stored
    and moved the console's 8B estimate from 184 to 383 tok/s. A 12 GB 3060 reads 360 GB/s: an
    8B Q4_0 decode cannot beat ~80 tok/s, so the row is refused naming the field and the bound."""
    absurd = {
        **ROW,
        "card_key": "geforce-rtx-3060-12gb",
        "card_name": "NVIDIA GeForce RTX 3060",
        "runtime": "llama.cpp-cuda",
        "tokens_per_s": 10_000_000.0,
    }
    refused = api("POST", "/admin/measurements", json={"data": [absurd]})
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert "roofline" in error["message"] and "360 GB/s" in error["message"]
    assert "tokens_per_s" in error["message"]
    assert api("GET", "/admin/measurements").json()["data"] == []
    prefill = {**absurd, "n_gen": 0, "n_prompt": 512, "tokens_per_s": 1e9}
    assert api("POST", "/admin/measurements", json={"data": [prefill]}).status_code == 400
    fast_but_real = {**absurd, "tokens_per_s": 60.0}  # a good 3060 decode: stored
    assert api("POST", "/admin/measurements", json={"data": [fast_but_real]}).status_code == 201
