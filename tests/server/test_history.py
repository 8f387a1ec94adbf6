"""The history: rollups that add up across flushes, its store on SQLite and PostgreSQL, what
telemetry and metered requests record, and `GET /admin/history` (points, listing, bad input)."""

from __future__ import annotations

import time

import httpx
import pytest

from rigshift.server.history_rollup import Point, Rollup
from rigshift.server.history_series import HOUR, MINUTE, QUARTER, RANGES, SERIES, bucket_of
from rigshift.server.stores.history import HistoryStore
from waiting import wait_until

from .conftest import JOIN_TOKEN, replica
from .test_telemetry_metrics import REPORT as METRICS_REPORT

T0 = 1_800_000_000.0  # a minute boundary (and an hour's)


def _by_key(points: list[Point]) -> dict[tuple[str, str, int], Point]:
    return {(p.series, p.subject, p.resolution): p for p in points}


def test_a_sample_lands_in_one_bucket_of_every_tier():
    rollup = Rollup()
    rollup.add("gpu.power_w", "rig-a/0", 100.0, T0 + 61)
    rollup.add("gpu.power_w", "rig-a/0", 140.0, T0 + 65)
    points = _by_key(rollup.take(T0 + 70))
    minute = points[("gpu.power_w", "rig-a/0", MINUTE)]
    assert (minute.bucket, minute.n, minute.total, minute.lo, minute.hi) == (T0 + 60, 2, 240.0, 100.0, 140.0)
    assert points[("gpu.power_w", "rig-a/0", QUARTER)].bucket == bucket_of(T0, QUARTER)
    assert points[("gpu.power_w", "rig-a/0", HOUR)].bucket == bucket_of(T0, HOUR)
    assert rollup.take(T0 + 80) == []  # handed out once


def test_percentiles_cover_the_whole_bucket_across_flushes_and_are_dropped_once_closed():
    rollup = Rollup()
    for seconds in (0.1, 0.2, 0.3):
        rollup.add_duration("model.latency", "tiny", seconds, T0 + 1)
    rollup.take(T0 + 2)
    rollup.add_duration("model.latency", "tiny", 2.0, T0 + 3)
    points = _by_key(rollup.take(T0 + 4))
    p95 = points[("model.latency_p95_s", "tiny", MINUTE)]
    p50 = points[("model.latency_p50_s", "tiny", MINUTE)]
    assert p95.replace and p95.n == 4  # all four requests of the bucket, not only the last one
    assert p95.lo == pytest.approx(2.0, rel=0.03)
    assert p50.lo == pytest.approx(0.2, rel=0.03)
    rollup.take(T0 + 2 * HOUR)  # every bucket of T0 has closed
    assert rollup.take(T0 + 2 * HOUR + 1) == []


def test_a_tier_not_taken_keeps_adding_up_until_it_is():
    rollup = Rollup()
    rollup.add("gpu.power_w", "rig-a/0", 100.0, T0)
    rollup.add_duration("model.ttft", "tiny", 0.5, T0)
    assert {p.resolution for p in rollup.take(T0 + 1, [MINUTE])} == {MINUTE}
    rollup.add("gpu.power_w", "rig-a/0", 50.0, T0 + 2)
    hour = _by_key(rollup.take(T0 + 3, [HOUR]))
    assert (hour[("gpu.power_w", "rig-a/0", HOUR)].n, hour[("gpu.power_w", "rig-a/0", HOUR)].total) == (
        2,
        150.0,
    )
    assert hour[("model.ttft_p50_s", "tiny", HOUR)].n == 1
    assert {p.resolution for p in rollup.take(T0 + 4)} == {MINUTE, QUARTER}  # the tiers left waiting


def test_points_a_failed_write_gives_back_are_written_by_the_next_flush():
    rollup = Rollup()
    rollup.add("site.power_w", "*", 10.0, T0)
    lost = rollup.take(T0)
    rollup.add("site.power_w", "*", 30.0, T0 + 1)
    rollup.give_back(lost)
    minute = _by_key(rollup.take(T0 + 2))[("site.power_w", "*", MINUTE)]
    assert (minute.n, minute.total) == (2, 40.0)


def test_the_store_adds_pieces_of_a_bucket_replaces_percentiles_and_prunes(engine):
    store = HistoryStore(engine)
    store.write([Point("gpu.power_w", "rig-a/0", MINUTE, int(T0), 2, 200.0, 90.0, 110.0)])
    store.write([Point("gpu.power_w", "rig-a/0", MINUTE, int(T0), 1, 150.0, 150.0, 150.0)])
    store.write([Point("model.latency_p95_s", "tiny", MINUTE, int(T0), 3, 3.0, 1.0, 1.0, True)])
    store.write([Point("model.latency_p95_s", "tiny", MINUTE, int(T0), 5, 10.0, 2.0, 2.0, True)])
    assert store.points("gpu.power_w", "rig-a/0", MINUTE, T0) == [(int(T0), 3, 350.0, 90.0, 150.0)]
    assert store.points("model.latency_p95_s", "tiny", MINUTE, T0) == [(int(T0), 5, 10.0, 2.0, 2.0)]
    store.write([Point("gpu.power_w", "rig-a/0", MINUTE, int(T0 + 120), 1, 1.0, 1.0, 1.0)])
    # A second store (another process, or after a restart) finds the series already registered.
    HistoryStore(engine).write([Point("gpu.power_w", "rig-a/0", HOUR, int(T0), 1, 5.0, 5.0, 5.0)])
    assert store.subjects("gpu.power_w", 10) == ["rig-a/0"]
    assert store.prune({MINUTE: T0 + 60, HOUR: T0}) == 2
    assert store.points("gpu.power_w", "rig-a/0", MINUTE, 0) == [(int(T0 + 120), 1, 1.0, 1.0, 1.0)]
    assert store.points("gpu.power_w", "rig-a/0", HOUR, 0) == [(int(T0), 1, 5.0, 5.0, 5.0)]


def test_every_range_reads_a_tier_that_is_kept_long_enough():
    from rigshift.server.history_series import RETENTION_S

    for span, resolution in RANGES.values():
        assert RETENTION_S[resolution] >= span + resolution
        assert span / resolution <= 800  # a chart of at most a few hundred points


# test_telemetry_metrics' report (two GPUs on rig-a, 140 W + 120 W), with utilisation.
REPORT = {
    **METRICS_REPORT,
    "gpus": [
        {**gpu, "utilization_pct": u} for gpu, u in zip(METRICS_REPORT["gpus"], (90.0, 50.0), strict=True)
    ],
}


@pytest.fixture
def farm(gateway, backends):
    backend = backends()
    gw = gateway([replica("r1", backend.url)], history_flush_s=0.1)
    admin = gw.key("ops", admin=True)
    return gw, {"authorization": f"Bearer {admin}"}


def _history(gw, headers, **params):
    return httpx.get(gw.url + "/admin/history", params=params, headers=headers)


def _points(gw, headers, **params) -> list[list[float]]:
    r = _history(gw, headers, **params)
    assert r.status_code == 200, r.text
    return r.json()["points"]


def test_telemetry_and_requests_become_history_over_the_api(farm):
    gw, headers = farm
    agent = {"authorization": f"Bearer {JOIN_TOKEN}"}
    assert httpx.post(gw.url + "/internal/telemetry", json=REPORT, headers=agent).status_code == 204
    tenant = gw.key("acme")
    for _ in range(3):
        gw.client(tenant).chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}])

    points = wait_until(
        lambda: _points(gw, headers, series="rig.power_w", range="1h", rig="rig-a"), "the rig's power"
    )
    [[at, watts]] = points
    assert watts == 260.0 and at in (bucket_of(time.time(), MINUTE), bucket_of(time.time() - 60, MINUTE))
    # The 15-minute and hourly tiers are written every 10th and 30th flush.
    [[_, hottest]] = wait_until(
        lambda: _points(gw, headers, series="rig.temperature_c", range="24h", rig="rig-a"), "15-minute points"
    )
    assert hottest == 61.0
    [[_, gpu1]] = wait_until(
        lambda: _points(gw, headers, series="gpu.utilization_pct", range="7d", rig="rig-a", gpu="1"), "hourly"
    )
    assert gpu1 == 50.0
    requests = wait_until(
        lambda: _points(gw, headers, series="model.requests_per_min", range="1h", model="tiny"), "requests"
    )
    assert sum(v for _, v in requests) == 3.0  # three requests in 1-minute buckets: 3 a minute in all
    farm_wide = _points(gw, headers, series="model.tokens_per_s", range="1h")
    assert sum(v for _, v in farm_wide) * 60 == 15.0  # the fake backend's 5 completion tokens each
    revenue = wait_until(
        lambda: _points(gw, headers, series="tenant.revenue_usd_per_h", range="30d"), "revenue"
    )
    assert len(revenue) == 1 and revenue[0][1] > 0
    p95 = _points(gw, headers, series="replica.latency_p95_s", range="1h", replica="r1")
    assert len(p95) >= 1 and 0 < p95[-1][1] < 10
    # The farm snapshot: the rig's two GPUs are live and drawing 260 W between them.
    # (the minute's mean: snapshots before the report arrived saw 0 W; farm_snapshot is tested below)
    site = wait_until(lambda: _points(gw, headers, series="site.power_w", range="1h"), "the farm's power")
    assert 0 < site[-1][1] <= 260.0
    subjects = httpx.get(
        gw.url + "/admin/history/subjects", params={"series": "gpu.power_w"}, headers=headers
    )
    assert subjects.json()["data"] == ["rig-a/0", "rig-a/1"]


def test_without_a_series_it_lists_them_all(farm):
    gw, headers = farm
    listed = _history(gw, headers).json()["data"]
    assert [s["name"] for s in listed] == list(SERIES)
    power = next(s for s in listed if s["name"] == "gpu.power_w")
    assert (power["unit"], power["params"]) == ("W", ["rig", "gpu"])


@pytest.mark.parametrize(
    ("params", "param", "words"),
    [
        ({"series": "rig.powr_w"}, "series", "did you mean 'rig.power_w'"),
        ({"series": "rig.power_w", "rig": "a", "range": "2d"}, "range", "1h, 24h, 7d, 30d"),
        ({"series": "rig.power_w"}, "rig", "needs rig="),
        ({"series": "gpu.power_w", "rig": "a"}, "gpu", "needs gpu="),
        ({"series": "gpu.power_w", "rig": "a", "gpu": "x"}, "gpu", "a GPU index"),
        ({"series": "site.power_w", "model": "tiny"}, "model", "per site"),
        ({"series": "site.power_w", "rigg": "a"}, "rigg", "unknown parameter"),
        ({"series": "x" * 65}, "series", "at most 64"),
    ],
)
def test_bad_parameters_are_a_400_in_openai_shape(farm, params, param, words):
    gw, headers = farm
    r = _history(gw, headers, **params)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["param"] == param and words in error["message"] and error["type"] == "invalid_request_error"


def test_history_is_for_admins(farm):
    gw, _ = farm
    tenant = {"authorization": f"Bearer {gw.key('acme')}"}
    assert _history(gw, tenant, series="site.power_w").status_code == 403
    assert httpx.get(gw.url + "/admin/history").status_code == 401


def test_a_farm_snapshot_sums_live_power_per_site_and_prices_it():
    from rigshift.run.contracts import RigTelemetry
    from rigshift.server.fleet_view import build_view
    from rigshift.server.history_farm import farm_snapshot

    now = T0
    view = build_view(
        None,
        {"rig-a": (now, RigTelemetry.model_validate(REPORT))},
        [replica("r1", "http://127.0.0.1:1")],
        now=now,
        stale_s=30,
    )
    snap = farm_snapshot(view, None, default_usd_per_kwh=0.10)
    samples = {(series, subject): value for series, subject, value in snap.samples}
    site = view.rigs[0].site
    assert samples[("site.power_w", site)] == samples[("site.power_w", "*")] == 260.0
    assert samples[("site.price_usd_per_kwh", site)] == 0.10
    assert snap.cost_usd_per_h["*"] == pytest.approx(0.26 * 0.10)
    assert samples[("rig.gpus_serving", "rig-a")] == 1.0  # r1 holds GPU 0
    assert snap.classes == {"r1": [f"{site}/rtx-3060-12g"]}
