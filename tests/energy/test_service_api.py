"""The run-time energy loop and its HTTP API on a real SQLite database (FastAPI TestClient)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rigshift.catalog.gpus import gpu_catalog
from rigshift.energy.farm import SiteFarm
from rigshift.energy.policy import BatchJob, CardGroup, InteractiveNeed, cap_levels
from rigshift.energy.service import EnergyService
from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.energy_events import EnergyEventStore
from rigshift.server.stores.keys import KeyStore

JOIN = "join-token-for-energy-tests"
T0 = 1_720_000_000.0


def site_farm() -> SiteFarm:
    spec = gpu_catalog().get("geforce-rtx-3060-12gb")
    ai = CardGroup("tx/3060", spec.key, 4, True, spec.tdp_w, 12.0, 8.0, cap_levels(spec, 200.0))
    miner = CardGroup("tx/1080", "geforce-gtx-1080-ti", 2, False, 250.0, 12.0, 8.0, (), 0.02, 150.0)
    return SiteFarm("tx", (ai, miner), 1.1, 50.0)


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.now = T0
        self.price = 0.03
        self.engine = open_engine(str(tmp_path / "e.db"))
        self.store = EnergyEventStore(self.engine)
        self.loop = EnergyService(
            {"tx": site_farm()},
            lambda site, now: (self.price, ()),
            self.store,
            backlog=lambda site: [BatchJob("b1", 1e7, self.now + 2 * 86400, 0.11)],
            demand=lambda site: [InteractiveNeed("chat", 1, 100.0, 0.22)],
            gpus_by_group=lambda site: {
                "tx/3060": [f"rig-a/{i}" for i in range(4)],
                "tx/1080": ["rig-b/0", "rig-b/1"],
            },
            step_s=300,
            clock=lambda: self.now,
        )


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_event_sheds_under_target_logs_and_resumes(world: World) -> None:
    world.loop.tick()
    before = world.loop.state["tx"].decision
    assert before is not None and before.batch_on and world.loop.batch_allowed("tx")
    event = world.store.create("tx", T0 + 10, T0 + 610, shed_kw=0.5, target_kw=None, now=T0)
    for step in range(1, 36):  # the loop ticks every few seconds; 20 s here
        world.now = T0 + step * 20
        world.loop.tick()
        state = world.loop.state["tx"]
        assert state.decision is not None
        if T0 + 10 <= world.now < T0 + 610:
            assert state.decision.in_event and state.decision.power_kw <= before.power_kw - 0.5 + 1e-9
            assert state.decision.mining_cards < before.mining_cards  # mining goes first
    after = world.loop.state["tx"].decision
    assert after is not None and not after.in_event and world.loop.batch_allowed("tx")  # work resumes
    stored = world.store.get(event.id)
    assert stored.baseline_kw == pytest.approx(before.power_kw)
    assert stored.max_kw_shed >= 0.5 - 1e-9 and stored.kwh_avoided > 0
    assert stored.under_target_after_s is not None and stored.under_target_after_s <= 60
    assert stored.paused["mining_cards"] > 0
    # A deep event (a target near the idle floor) pauses batch: the batch runner is told so.
    world.store.create("tx", world.now, world.now + 600, shed_kw=None, target_kw=0.2, now=world.now)
    world.loop.tick()
    assert not world.loop.batch_allowed("tx")
    assert world.store.current(world.now)[0].paused["batch_paused"] is True


def test_caps_per_gpu_and_manual_batch_pause(world: World) -> None:
    world.loop.tick()
    caps = world.loop.caps_for_rig("rig-a")
    assert [c["index"] for c in caps] == [0, 1, 2, 3]
    assert all(c["power_cap_w"] is not None for c in caps if c["role"] in ("interactive", "batch"))
    assert any(c["role"] == "interactive" for c in caps)
    world.loop.pause_batch("tx", "maintenance")
    assert not world.loop.batch_allowed("tx")
    world.loop.resume_batch("tx")
    assert world.loop.batch_allowed("tx")
    world.price = 5.0  # $5,000/MWh: batch waits (its deadline is two days away)
    world.loop.tick()
    assert not world.loop.batch_allowed("tx")


def _energy_app(world: World):  # type: ignore[no-untyped-def]
    """The server app over the world's database, clock and energy loop."""
    return create_app(
        StaticDirectory([]),
        ServerSettings(join_token=JOIN),
        engine=world.engine,
        clock=lambda: world.now,
        energy_loop=world.loop,
    )


def test_http_api(world: World) -> None:
    secret = KeyStore(world.engine).create("ops", now=T0, admin=True)[1]
    tenant = KeyStore(world.engine).create("t", now=T0)[1]
    app = _energy_app(world)
    admin = {"Authorization": f"Bearer {secret}"}
    with TestClient(app) as client:
        assert client.get("/admin/energy", headers={"Authorization": f"Bearer {tenant}"}).status_code == 403
        created = client.post(
            "/admin/energy/events", headers=admin, json={"site": "tx", "shed_kw": 0.5, "end": T0 + 600}
        )
        assert created.status_code == 201, created.text
        event_id = created.json()["id"]
        status = client.get("/admin/energy", headers=admin).json()
        (site,) = status["sites"]
        assert site["event"]["id"] == event_id and site["decision"]["in_event"]
        assert site["planned_kw"] <= site["unconstrained_kw"] - 0.5 + 1e-6
        bad = client.post("/admin/energy/events", headers=admin, json={"site": "tx", "end": T0 + 600})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "shed_kw"
        unknown = client.post(
            "/admin/energy/events", headers=admin, json={"site": "nowhere", "shed_kw": 1, "end": T0 + 9}
        )
        assert unknown.status_code == 400
        nan = client.post(
            "/admin/energy/events",
            headers={**admin, "content-type": "application/json"},
            content=b'{"site":"tx","shed_kw":NaN,"end":1}',
        )
        assert nan.status_code == 400
        assert client.get("/internal/energy/caps?rig=rig-a").status_code == 401
        caps = client.get(
            "/internal/energy/caps?rig=rig-a", headers={"Authorization": f"Bearer {JOIN}"}
        ).json()
        assert len(caps["gpus"]) == 4
        assert (
            client.post("/admin/energy/batch/tx/pause", headers=admin, json={"reason": "x"}).json()[
                "batch_allowed"
            ]
            is False
        )
        assert client.post("/admin/energy/batch/tx/resume", headers=admin).status_code == 200
        cancelled = client.delete(f"/admin/energy/events/{event_id}", headers=admin).json()
        assert cancelled["cancelled_at"] is not None
        assert client.delete("/admin/energy/events/ev-nope", headers=admin).status_code == 404
        listed = client.get("/admin/energy/events?site=tx", headers=admin).json()["data"]
        assert [e["id"] for e in listed] == [event_id]


def test_replicas_are_held_in_an_event_and_released_after(tmp_path: Path) -> None:
    world = World(tmp_path)
    held: dict[str, str] = {}
    world.loop.replicas = lambda site: {"chat": ["chat-0", "chat-1", "chat-2"]}
    world.loop.demand = lambda site: [InteractiveNeed("chat", 3, 400.0, 0.22)]
    world.loop.hold = lambda ids, why: held.update(dict.fromkeys(ids, why))
    world.loop.release = lambda ids: [held.pop(i) for i in ids]
    world.loop.tick()
    assert held == {}  # three replicas wanted, three planned
    event = world.store.create("tx", T0, T0 + 600, shed_kw=None, target_kw=0.25, now=T0)
    world.loop.tick()
    assert held and all(why == f"energy: event {event.id}" for why in held.values())
    world.now = T0 + 700
    world.loop.tick()
    assert held == {}


def test_an_event_ending_in_the_far_future_is_a_400_naming_end(world: World) -> None:
    """Regression: `"end": 1e308` was stored and broke the console's Energy page."""
    secret = KeyStore(world.engine).create("ops", now=T0, admin=True)[1]
    app = _energy_app(world)
    admin = {"Authorization": f"Bearer {secret}"}
    with TestClient(app) as client:
        for end in (1e308, "9999-12-31T00:00:00Z"):
            body = {"site": "tx", "shed_kw": 1, "end": end}
            refused = client.post("/admin/energy/events", headers=admin, json=body)
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"]["param"] == "end"
        assert client.get("/admin/energy/events", headers=admin).json()["data"] == []
