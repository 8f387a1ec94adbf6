"""The farm folded into rows: GPU states, where each figure comes from, and the alerts."""

from __future__ import annotations

from rigshift.fleet.model import Fleet, Gpu, Rig, Site
from rigshift.run.contracts import GpuTelemetry, ReplicaEndpoint, RigTelemetry
from rigshift.server.fleet_view import HOT_GPU_C, build_view, overview
from rigshift.server.metering import TokenPrices
from rigshift.server.services.usage_report import fold, percentile

NOW = 1_000_000.0


def fleet() -> Fleet:
    def gpu(i: int, mining: bool, temp: float) -> Gpu:
        return Gpu(
            model="rtx-3060-12gb",
            vram_gib=12,
            index=i,
            miner_running=mining,
            temperature_c=temp,
            power_draw_w=100,
        )

    return Fleet(
        sites=[Site(name="tx", power_price_usd_kwh=0.1, pue=1.5), Site(name="no")],
        rigs=[
            Rig(name="a", site="tx", gpus=[gpu(0, True, 95), gpu(1, False, 50)]),
            Rig(name="b", site="no", gpus=[gpu(0, True, 60)]),
        ],
    )


def replica(state: str, restarts: int = 0, gpus: tuple[str, ...] = ("a/1",)) -> ReplicaEndpoint:
    return ReplicaEndpoint("r1", "d", "m", "http://x", "a", gpus, state, labels={"restarts": str(restarts)})  # type: ignore[arg-type]


def telemetry(rig: str, at: float, temp: float) -> tuple[float, RigTelemetry]:
    return at, RigTelemetry(
        rig=rig, timestamp=at, gpus=[GpuTelemetry(index=0, temperature_c=temp, power_w=200)]
    )


def test_states_follow_replicas_inventory_and_silence():
    view = build_view(fleet(), {"b": telemetry("b", NOW - 100, 60)}, [replica("ready")], now=NOW, stale_s=30)
    states = {(g.rig, g.index): g.state for g in view.gpus}
    assert states == {("a", 0): "mining", ("a", 1): "serving", ("b", 0): "lost"}
    assert [a.kind for a in view.alerts] == ["rig_lost"]
    assert "100 s" in view.alerts[0].message


def test_only_live_readings_raise_hot_gpu_alerts():
    # Rig a's inventory says 95 °C (a snapshot, not now): no alert. Rig b reports it live: alert.
    view = build_view(fleet(), {"b": telemetry("b", NOW - 1, HOT_GPU_C + 1)}, [], now=NOW, stale_s=30)
    assert [(a.kind, a.subject) for a in view.alerts] == [("hot_gpu", "b/0")]
    b0 = next(g for g in view.gpus if g.rig == "b")
    assert b0.source == "live" and b0.power_w == 200
    a0 = next(g for g in view.gpus if g.rig == "a")
    assert a0.source == "inventory" and a0.temperature_c == 95


def test_a_restarting_replica_raises_an_alert_and_a_first_start_does_not():
    assert not build_view(fleet(), {}, [replica("starting")], now=NOW, stale_s=30).alerts
    alerts = build_view(fleet(), {}, [replica("starting", restarts=2)], now=NOW, stale_s=30).alerts
    assert [a.kind for a in alerts] == ["replica_restarting"] and "2 restart" in alerts[0].message
    assert build_view(fleet(), {}, [replica("unhealthy")], now=NOW, stale_s=30).alerts[0].kind == (
        "replica_restarting"
    )


def test_rigs_outside_the_fleet_file_are_listed():
    view = build_view(fleet(), {"probe-1": telemetry("probe-1", NOW, 40)}, [], now=NOW, stale_s=30)
    extra = next(r for r in view.rigs if r.name == "probe-1")
    assert extra.site == "unassigned" and extra.gpus == 1 and extra.states["idle"] == 1


def test_overview_prices_power_per_site_with_pue_and_the_default_elsewhere():
    view = build_view(fleet(), {}, [], now=NOW, stale_s=30)
    body = overview(view, fleet(), tokens_per_s=2.0, revenue_usd_per_h=0.5, default_usd_per_kwh=0.2)
    sites = {s["name"]: s for s in body["sites"]}
    assert sites["tx"]["power_cost_usd_per_h"] == 0.2 * 1.5 * 0.1  # 200 W, PUE 1.5, $0.10
    assert sites["no"]["power_cost_usd_per_h"] == 0.1 * 1.0 * 0.2  # 100 W at the default price
    assert body["power_price_sources"] == ["default", "site"]
    assert body["gpu_states"] == {"mining": 2, "serving": 0, "idle": 1, "lost": 0}


class _Row:
    def __init__(
        self, at: float, key: str, gpus: str, prompt: int, completion: int, ms: float, status: int = 200
    ):
        self.created_at, self.key_id, self.model, self.replica_id, self.gpus = at, key, "m", "r1", gpus
        self.prompt_tokens, self.completion_tokens, self.duration_ms = prompt, completion, ms
        self.energy_wh, self.status = 1.0, status


def test_usage_is_folded_by_every_dimension_with_latency_percentiles():
    rows = [
        _Row(NOW - 10, "k1", "a/0,a/1", 100, 50, 100.0),
        _Row(NOW - 86400 * 2, "k1", "a/0", 10, 10, 300.0),
        _Row(NOW - 5, "k2", "", 20, 20, 200.0),
        _Row(NOW - 5, "k2", "", 20, 0, 5.0, status=429),
    ]
    report = fold(rows, TokenPrices(1.0, 2.0), {"k1": "acme", "k2": "beta"}, since=0, now=NOW)
    assert {r["group"]: r["requests"] for r in report["tenant"]} == {"acme": 2, "beta": 2}
    gpu = {r["group"]: r for r in report["gpu"]}
    assert gpu["a/0"]["prompt_tokens"] == 60 and gpu["a/1"]["prompt_tokens"] == 50  # split request shared
    assert gpu["(cpu)"]["requests"] == 2
    assert len(report["day"]) == 2
    assert report["total"]["errors"] == 1
    assert report["total"]["latency_ms"] == {"p50": 200.0, "p95": 300.0, "p99": 300.0}  # errors excluded
    assert report["tokens_per_s"] == (150 + 40 + 20) / 60
    assert report["total"]["revenue_usd"] == (150 * 1.0 + 80 * 2.0) / 1e6


def test_percentile_is_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == 4.0
