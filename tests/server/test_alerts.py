"""Alerts: the rules on the server's state (pure), their history in the database (real SQLite, or
PostgreSQL with RIGSHIFT_TEST_POSTGRES_URL), and the service that evaluates them."""

from __future__ import annotations

import anyio
import pytest

from rigshift.errors import InputError
from rigshift.run.contracts import GpuTelemetry, ReplicaEndpoint, RigTelemetry
from rigshift.server.alert_rules import AlertLimits, Condition, conditions
from rigshift.server.errors import NotFound
from rigshift.server.fleet_view import HOT_GPU_C, build_view
from rigshift.server.services.alerts import AlertsService
from rigshift.server.stores.alerts import AlertStore

NOW = 1_800_000_000.0
LIMITS = AlertLimits(
    stale_after_s=15, error_rate=0.05, min_requests=20, slo_p95_latency_s=30, price_ceiling_usd_mwh=100
)


def report(rig: str, temperature: float = 60.0) -> RigTelemetry:
    return RigTelemetry(rig=rig, timestamp=NOW, gpus=[GpuTelemetry(index=0, temperature_c=temperature)])


def view(ages: dict[str, float], temps: dict[str, float] | None = None, replicas=()):
    telemetry = {rig: (NOW - age, report(rig, (temps or {}).get(rig, 60.0))) for rig, age in ages.items()}
    return build_view(None, telemetry, list(replicas), now=NOW, stale_s=30.0)


def usage(model: str, requests: int, errors: int, p95_ms: float | None = 100.0) -> dict:
    return {"group": model, "requests": requests, "errors": errors, "latency_ms": {"p95": p95_ms}}


def rules_of(found: list[Condition]) -> dict[tuple[str, str], str]:
    return {(c.rule, c.subject): c.severity for c in found}


def test_each_rule_fires_on_its_condition_and_not_below_it():
    restarting = ReplicaEndpoint(
        replica_id="r1", deployment="d", model="m", base_url="http://x", rig="rig-ok", state="unhealthy",
        labels={"restarts": "2"},
    )  # fmt: skip
    found = conditions(
        view(
            {"rig-ok": 5, "rig-quiet": 16, "rig-gone": 31, "rig-hot": 1},
            {"rig-hot": HOT_GPU_C, "rig-ok": HOT_GPU_C - 1},
            [restarting],
        ),
        [usage("failing", 20, 1), usage("fine", 20, 0), usage("few", 19, 19), usage("slow", 5, 0, 30_001)],
        [
            {"site": "tx", "price_usd_mwh": 100.5},
            {"site": "no", "price_usd_mwh": 100.0},
            {"site": "x", "price_usd_mwh": None},
        ],
        LIMITS,
    )
    assert rules_of(found) == {
        ("rig_lost", "rig-gone"): "critical",
        ("telemetry_stale", "rig-quiet"): "warning",
        ("hot_gpu", "rig-hot/0"): "warning",
        ("replica_restarting", "r1"): "warning",
        ("error_rate", "failing"): "critical",  # 1 in 20 = 5 %: at the threshold
        ("slo_breach", "slow"): "warning",
        ("price_above_ceiling", "tx"): "warning",
    }
    assert "30.0 s" in next(c.message for c in found if c.rule == "slo_breach")


def test_a_price_rule_without_a_ceiling_never_fires():
    limits = AlertLimits(price_ceiling_usd_mwh=None)
    assert conditions(view({}), [], [{"site": "tx", "price_usd_mwh": 10_000.0}], limits) == []


class Held:
    def __init__(self, rule: str, subject: str, message: str = "m", severity: str = "warning"):
        self.rule, self.subject, self.message, self.severity = rule, subject, message, severity


def test_an_alert_fires_once_is_seen_again_and_resolves_with_its_times(engine):
    store = AlertStore(engine)
    [fired] = store.sync([Held("hot_gpu", "rig-a/0", "81 C")], NOW)
    assert fired.fired_at == NOW and fired.active
    [again] = store.sync([Held("hot_gpu", "rig-a/0", "90 C", "critical")], NOW + 10)
    assert (again.id, again.fired_at, again.last_seen_at) == (fired.id, NOW, NOW + 10)
    assert (again.message, again.severity) == ("90 C", "critical")
    assert store.sync([], NOW + 20) == []
    [resolved] = store.history()
    assert (resolved.id, resolved.resolved_at, resolved.active) == (fired.id, NOW + 20, False)
    # The same condition later is a new alert: the history keeps both.
    [refired] = store.sync([Held("hot_gpu", "rig-a/0")], NOW + 30)
    assert refired.id != fired.id
    assert [a.id for a in store.history()] == [refired.id, fired.id]
    assert [a.id for a in store.history(rule="rig_lost")] == []


def test_acknowledging_stores_who_and_when_and_the_first_one_stands(engine):
    store = AlertStore(engine)
    [alert] = store.sync([Held("rig_lost", "rig-a")], NOW)
    acked = store.acknowledge(alert.id, "alice", NOW + 5)
    assert (acked.acked_by, acked.acked_at, acked.active) == ("alice", NOW + 5, True)
    assert store.acknowledge(alert.id, "bob", NOW + 6).acked_by == "alice"
    # An acknowledged alert still resolves when its condition ends, and keeps its acknowledgement.
    store.sync([], NOW + 7)
    [done] = store.history()
    assert (done.acked_by, done.resolved_at) == ("alice", NOW + 7)
    with pytest.raises(InputError):
        store.acknowledge("al-0000", "alice", NOW)


def test_the_service_evaluates_the_servers_state_as_the_clock_moves(engine):
    clock = [NOW]
    ages = {"rig-a": 1.0}

    def fleet_view():
        return view({rig: age + clock[0] - NOW for rig, age in ages.items()})

    async def model_usage(since: float, now: float) -> list[dict]:
        assert now - since == LIMITS.window_s
        return [usage("tiny", 40, 10)] if clock[0] < NOW + 100 else []

    service = AlertsService(
        AlertStore(engine), lambda: clock[0], LIMITS, view=fleet_view, usage_by_model=model_usage
    )
    assert {a.rule for a in anyio.run(service.evaluate)} == {"error_rate"}
    clock[0] = NOW + 20  # 21 s without telemetry: stale, not lost
    assert {a.rule for a in anyio.run(service.evaluate)} == {"error_rate", "telemetry_stale"}
    clock[0] = NOW + 100  # lost; the errors are out of the window
    assert {(a.rule, a.subject) for a in anyio.run(service.evaluate)} == {("rig_lost", "rig-a")}
    history = anyio.run(lambda: service.history(50))
    assert {(a.rule, a.resolved_at) for a in history} == {
        ("rig_lost", None),
        ("telemetry_stale", NOW + 100),
        ("error_rate", NOW + 100),
    }
    with pytest.raises(NotFound):
        anyio.run(service.acknowledge, "al-ffff", "alice")
