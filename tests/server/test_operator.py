"""The operator's actions: the service on a real database (SQLite, or PostgreSQL with
RIGSHIFT_TEST_POSTGRES_URL), then over HTTP (admin only, CSRF for console sessions, the audit log)."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import httpx
import pytest

from rigshift.errors import BackendError, InputError
from rigshift.fleet.demo import demo_fleet
from rigshift.measure.types import Measurement
from rigshift.run.contracts import GpuTelemetry, RigTelemetry
from rigshift.run.spec import ModelSource, ReplicaSpec
from rigshift.server.app import create_app
from rigshift.server.errors import BadRequest, NotFound
from rigshift.server.fleet_source import FleetSource
from rigshift.server.fleet_view import HOT_GPU_C
from rigshift.server.replica_picker import Router
from rigshift.server.serving import serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.keys import KeyStore
from waiting import wait_until

from .conftest import JOIN_TOKEN, replica
from .test_deployments import FakeManager

DEMAND = (Path(__file__).resolve().parents[2] / "examples" / "demand" / "small-test.yaml").read_text()
NOW = 1_800_000_000.0
FLEET = demo_fleet(scale=60)
RIG_A, RIG_B = FLEET.rigs[0].name, FLEET.rigs[1].name  # the fleet closes the list of rigs a plan may name


def measurement(rig: str) -> Measurement:
    return Measurement(
        card_key="geforce-rtx-3060-12gb", card_name="RTX 3060", runtime="llama.cpp-cuda", model_key="qwen2.5-1.5b",
        quant="Q4_K_M", n_prompt=512, n_gen=128, tokens_per_s=80.0, rig=rig,
    )  # fmt: skip


@pytest.fixture
def plane(engine, tmp_path):
    """The real app's context over the test database: a demo fleet, two replicas on two rigs,
    and a fake data-plane manager."""
    directory = StaticDirectory(
        [replica("a0", "http://127.0.0.1:9", rig=RIG_A), replica("b0", "http://127.0.0.1:9", rig=RIG_B)]
    )
    app = create_app(
        directory,
        ServerSettings(join_token=JOIN_TOKEN, files_dir=str(tmp_path / "files")),
        engine=engine,
        manager=FakeManager(),  # type: ignore[arg-type]
        fleet=FleetSource(lambda: FLEET, "demo farm, 60 GPUs"),
        clock=lambda: NOW,
    )
    return app.state.ctx


def actor():
    from rigshift.server.services.operator import Actor

    return Actor("alice", "k-alice")


def test_a_drained_rig_gets_no_request_and_no_new_replica_until_undrained(plane):
    ops = plane.operator
    router: Router = plane.gateway.router
    anyio.run(ops.drain, actor(), RIG_A, "fans")
    assert {router.choose("tiny").replica.rig for _ in range(6)} == {RIG_B}
    assert plane.deployments.manager.avoid_rigs() == {RIG_A}  # no lost rig's replica moves there
    spec = ReplicaSpec("new-0", "tiny", "tiny", ModelSource("demo", "hi"), RIG_A)
    with pytest.raises(BadRequest, match="is drained"):
        anyio.run(plane.deployments.apply, [spec])
    assert plane.deployments.desired() == []  # refused: nothing applied
    anyio.run(ops.undrain, actor(), RIG_A)
    assert {router.choose("tiny").replica.rig for _ in range(6)} == {RIG_A, RIG_B}
    assert anyio.run(plane.deployments.apply, [spec]) == [spec]
    log = anyio.run(ops.log, 10)
    assert [(e.action, e.target, e.actor, e.actor_key_id, e.at) for e in log] == [
        ("rig.undrain", RIG_A, "alice", "k-alice", NOW),
        ("rig.drain", RIG_A, "alice", "k-alice", NOW),
    ]
    assert log[1].detail == {"reason": "fans"}


def test_a_rig_the_fleet_does_not_have_is_not_drained(plane):
    typo = RIG_A[:-1] + "9"
    with pytest.raises(NotFound, match=f"did you mean {RIG_A}"):
        anyio.run(plane.operator.drain, actor(), typo, "")
    assert plane.operator.drained() == frozenset() and anyio.run(plane.operator.log, 10) == []


def test_drains_survive_a_restart_of_the_server(plane, engine):
    anyio.run(plane.operator.drain, actor(), RIG_B, "")
    again = create_app(
        StaticDirectory([replica("b0", "http://127.0.0.1:9", rig=RIG_B)]),
        ServerSettings(join_token="t"),
        engine=engine,
    ).state.ctx
    anyio.run(again.operator.load_drains)
    assert again.gateway.router.drained == {RIG_B}
    assert again.gateway.router.choose("tiny").outcome == "no_ready_replica"


def test_a_demand_dry_run_places_nothing_and_an_apply_hands_the_replicas_over(plane):
    ops = plane.operator
    dry = anyio.run(lambda: ops.apply_demand(actor(), DEMAND, dry_run=True))
    rigs = {r["rig"] for r in dry["replicas"]}
    assert dry["replicas"] and not dry["applied"] and plane.deployments.desired() == []
    # A drained rig is left out of the plan.
    drained = sorted(rigs)[0]
    anyio.run(ops.drain, actor(), drained, "")
    applied = anyio.run(lambda: ops.apply_demand(actor(), DEMAND, dry_run=False))
    assert applied["applied"] and drained not in {r["rig"] for r in applied["replicas"]}
    assert [s.replica_id for s in plane.deployments.desired()] == [
        r["replica_id"] for r in applied["replicas"]
    ]
    actions = [(e.action, e.outcome) for e in anyio.run(ops.log, 10)]
    assert actions == [("demand.apply", "ok"), ("rig.drain", "ok"), ("demand.dry_run", "dry_run")]


def test_a_refused_action_is_not_logged(plane):
    ops = plane.operator
    with pytest.raises(InputError, match="model"):
        anyio.run(lambda: ops.apply_demand(actor(), "deployments: [{name: x}]", dry_run=True))
    with pytest.raises(Exception, match="no API key"):
        anyio.run(ops.revoke_key, actor(), "nobody")
    with pytest.raises(NotFound):
        anyio.run(ops.acknowledge, actor(), "al-1234")
    assert anyio.run(ops.log, 10) == []


def test_key_revokes_and_energy_events_are_logged(plane, engine):
    key, _secret = KeyStore(engine).create("acme", now=NOW)
    ops = plane.operator
    revoked = anyio.run(ops.revoke_key, actor(), "acme")
    assert revoked.revoked_at == NOW
    event = anyio.run(lambda: ops.start_event(actor(), "tx", None, NOW + 3600, 50.0, None))
    ended = anyio.run(ops.end_event, actor(), event.id)
    assert ended.cancelled_at == NOW
    assert [(e.action, e.target) for e in anyio.run(ops.log, 10)] == [
        ("event.end", event.id),
        ("event.start", event.id),
        ("key.revoke", key.id),
    ]


def test_a_bench_started_in_the_background_ends_in_the_audit_log(plane):
    ops = plane.operator
    calls = []

    def bench(rig, runtime, threads, models=None):
        calls.append(rig)
        if rig == "rig-broken":
            raise BackendError("rig rig-broken: bench failed: no GPU")
        return [measurement(rig)]

    plane.measurements.rig_bench = bench

    async def start_both() -> None:
        await ops.start_bench(actor(), "rig-a")
        await ops.start_bench(actor(), "rig-broken")
        await wait_async(lambda: all(e.outcome != "started" for e in ops.audit.recent()))

    anyio.run(start_both)
    outcomes = {e.target: (e.outcome, e.detail) for e in anyio.run(ops.log, 10)}
    assert outcomes["rig-a"] == ("ok", {"models": None, "rows": 1})
    assert outcomes["rig-broken"][0] == "failed" and "no GPU" in outcomes["rig-broken"][1]["error"]
    assert [m.rig for m in anyio.run(plane.measurements.find, None, None, "rig-a")] == ["rig-a"]


async def wait_async(done, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "not done in time"
        await anyio.sleep(0.01)


# --- over HTTP --------------------------------------------------------------------------------


@pytest.fixture
def server(engine, tmp_path):
    directory = StaticDirectory([replica("a0", "http://127.0.0.1:9", rig="rig-a")])
    settings = ServerSettings(join_token=JOIN_TOKEN, files_dir=str(tmp_path / "files"), alerts_eval_s=3600)
    fleet = FleetSource(lambda: demo_fleet(scale=60), "demo farm, 60 GPUs")
    app = create_app(directory, settings, engine=engine, manager=FakeManager(), fleet=fleet)  # type: ignore[arg-type]
    running = serve_in_thread(app)
    yield running
    running.stop()


def keys(engine) -> tuple[dict[str, str], dict[str, str], str]:
    _a, admin = KeyStore(engine).create("ops-admin", now=time.time(), admin=True)
    _t, tenant = KeyStore(engine).create("tenant", now=time.time())
    return {"authorization": f"Bearer {admin}"}, {"authorization": f"Bearer {tenant}"}, admin


def telemetry(url: str, rig: str, temperature: float) -> None:
    report = RigTelemetry(
        rig=rig, timestamp=time.time(), gpus=[GpuTelemetry(index=0, temperature_c=temperature)]
    )
    r = httpx.post(
        url + "/internal/telemetry",
        content=report.model_dump_json(),
        headers={"authorization": f"Bearer {JOIN_TOKEN}"},
    )
    assert r.status_code == 204, r.text


def test_alerts_fire_are_acknowledged_and_resolve_over_http(server, engine):
    admin, tenant, _ = keys(engine)
    telemetry(server.url, "rig-a", HOT_GPU_C + 5)
    active = httpx.get(server.url + "/admin/alerts", headers=admin).json()
    [hot] = [a for a in active["data"] if a["rule"] == "hot_gpu"]
    assert hot["subject"] == "rig-a/0" and hot["active"] and hot["acked_by"] is None
    acked = httpx.post(server.url + f"/admin/alerts/{hot['id']}/ack", headers=admin)
    assert acked.status_code == 200 and acked.json()["acked_by"] == "ops-admin"
    telemetry(server.url, "rig-a", 50.0)
    assert not [
        a
        for a in httpx.get(server.url + "/admin/alerts", headers=admin).json()["data"]
        if a["rule"] == "hot_gpu"
    ]
    history = httpx.get(
        server.url + "/admin/alerts", params={"state": "history", "rule": "hot_gpu"}, headers=admin
    ).json()
    [done] = history["data"]
    assert (
        done["id"] == hot["id"]
        and done["resolved_at"] >= done["fired_at"]
        and done["acked_by"] == "ops-admin"
    )
    audit = httpx.get(server.url + "/admin/audit", headers=admin).json()["data"]
    assert [(e["action"], e["target"], e["actor"]) for e in audit] == [("alert.ack", hot["id"], "ops-admin")]
    # Admin only; bad ids and filters are a 4xx in OpenAI's shape.
    assert httpx.get(server.url + "/admin/alerts", headers=tenant).status_code == 403
    assert httpx.post(server.url + "/admin/alerts/al-00/ack", headers=admin).status_code == 404
    assert httpx.post(server.url + "/admin/alerts/nonsense/ack", headers=admin).status_code == 400
    assert httpx.get(server.url + "/admin/alerts", params={"rule": "nope"}, headers=admin).status_code == 400


def test_actions_over_http_need_an_admin_and_a_csrf_token_from_the_console(server, engine):
    admin, tenant, admin_secret = keys(engine)
    assert httpx.post(server.url + "/admin/rigs/rig-a/drain", json={}, headers=tenant).status_code == 403
    console = httpx.Client(base_url=server.url)
    csrf = console.post("/console/login", json={"key": admin_secret}).json()["csrf_token"]
    refused = console.post("/admin/rigs/rig-a/drain", json={"reason": "x"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    assert httpx.get(server.url + "/admin/audit", headers=admin).json()["data"] == []  # nothing stored
    done = console.post("/admin/rigs/rig-a/drain", json={"reason": "fans"}, headers={"x-csrf-token": csrf})
    assert done.status_code == 200 and done.json()["drained_by"] == "ops-admin"
    drains = httpx.get(server.url + "/admin/drains", headers=admin).json()["data"]
    assert [(d["rig"], d["reason"]) for d in drains] == [("rig-a", "fans")]
    # The only replica is on the drained rig: requests find no replica there.
    chat = httpx.post(
        server.url + "/v1/chat/completions",
        headers=admin,
        json={"model": "tiny", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert chat.status_code == 503 and chat.json()["error"]["code"] == "no_ready_replica"
    undone = console.post("/admin/rigs/rig-a/undrain", headers={"x-csrf-token": csrf})
    assert undone.status_code == 200 and undone.json()["was_drained"] is True
    bad_name = httpx.post(server.url + "/admin/rigs/bad%20name/drain", json={}, headers=admin)
    assert bad_name.status_code == 400 and bad_name.json()["error"]["param"] == "rig"
    unknown = httpx.post(server.url + "/admin/rigs/rig-zz/drain", json={}, headers=admin)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_rig"
    audit = httpx.get(server.url + "/admin/audit", headers=admin).json()["data"]
    assert [(e["action"], e["target"], e["actor"]) for e in audit] == [
        ("rig.undrain", "rig-a", "ops-admin"),
        ("rig.drain", "rig-a", "ops-admin"),
    ]


def test_a_demand_over_http_dry_runs_by_default_and_refuses_bad_yaml(server, engine):
    admin, _tenant, _ = keys(engine)
    dry = httpx.post(server.url + "/admin/demand", json={"demand": DEMAND}, headers=admin, timeout=60)
    assert dry.status_code == 200 and dry.json()["dry_run"] and dry.json()["replicas"]
    assert httpx.get(server.url + "/admin/deployments", headers=admin).json()["data"] == []
    bad = httpx.post(
        server.url + "/admin/demand", json={"demand": "deployments: 3", "dry_run": False}, headers=admin
    )
    assert bad.status_code == 400 and bad.json()["error"]["message"]
    applied = httpx.post(
        server.url + "/admin/demand", json={"demand": DEMAND, "dry_run": False}, headers=admin, timeout=60
    )
    assert applied.status_code == 200 and applied.json()["applied"]
    assert len(httpx.get(server.url + "/admin/deployments", headers=admin).json()["data"]) == len(
        applied.json()["replicas"]
    )
    audit = httpx.get(server.url + "/admin/audit", headers=admin).json()["data"]
    assert [e["action"] for e in audit] == ["demand.apply", "demand.dry_run"]


def test_a_bench_needs_a_cluster_and_a_key_revoke_is_audited_over_http(server, engine):
    admin, _tenant, _ = keys(engine)
    # This server has a data plane but no Ray: the bench starts, then fails, and the log says why.
    started = httpx.post(server.url + "/admin/rigs/rig-a/bench", json={}, headers=admin)
    assert started.status_code == 202 and started.json()["outcome"] == "started"

    def bench_ended():
        entries = httpx.get(
            server.url + "/admin/audit", params={"action": "rig.bench"}, headers=admin
        ).json()["data"]
        return entries[0]["outcome"] != "started" and entries[0]

    ended = wait_until(bench_ended, "the bench's audit entry to end")
    assert ended["outcome"] == "failed" and "Ray" in ended["detail"]["error"]
    revoked = httpx.delete(server.url + "/admin/keys/tenant", headers=admin)
    assert revoked.status_code == 200
    audit = httpx.get(server.url + "/admin/audit", headers=admin).json()["data"]
    assert (audit[0]["action"], audit[0]["detail"]) == ("key.revoke", {"name": "tenant"})


def test_draining_a_drained_rig_keeps_the_first_drain(engine):
    from rigshift.server.stores.audit import DrainStore

    drains = DrainStore(engine)
    first = drains.drain("rig-x", by="alice", reason="fans", now=NOW)
    assert drains.drain("rig-x", by="bob", reason="other", now=NOW + 1) == first
    assert [d.drained_by for d in drains.list()] == ["alice"]
    assert drains.undrain("rig-x") is True and drains.undrain("rig-x") is False and drains.list() == []
