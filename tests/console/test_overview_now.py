"""The Overview's money "now" (issue 16): modelled, and labelled so, until agents report what the GPUs
do; then priced from those live states (decision/now.py), never from arithmetic in the browser."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from rigshift.decision.now import LiveGpu, net_now
from rigshift.decision.service import decision_for
from rigshift.fleet.demo import demo_fleet
from rigshift.run.contracts import GpuTelemetry, RigTelemetry
from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.fleet_source import FleetSource
from rigshift.server.serving import serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.keys import KeyStore
from waiting import wait_until

from .helpers import bearer

TOKEN = "join-token-for-overview-now"
SCALE = 40


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[str, str]]:
    engine = open_engine(str(tmp_path / "r.db"))
    _key, admin = KeyStore(engine).create("admin", now=time.time(), admin=True)
    fleet = FleetSource(lambda: demo_fleet(scale=SCALE), "demo farm")
    running = serve_in_thread(
        create_app(StaticDirectory([]), ServerSettings(join_token=TOKEN), engine=engine, fleet=fleet)
    )
    yield running.url, admin
    running.stop()
    engine.dispose()


def _money(url: str, admin: str) -> dict:  # type: ignore[type-arg]
    def decided() -> dict | None:  # type: ignore[type-arg]
        body = httpx.get(url + "/admin/overview", headers=bearer(admin), timeout=60).json()
        return body["decision_money"]

    return wait_until(decided, "the server's decision", timeout_s=120, poll_s=0.2)


def test_now_is_modelled_and_says_so_until_agents_report_then_it_is_their_live_states(server) -> None:
    url, admin = server
    fleet = demo_fleet(scale=SCALE)
    made, _ = decision_for(fleet, use_measurements=False)
    modelled = _money(url, admin)["now"]
    assert modelled["basis"] == "modelled" and modelled["text"].startswith("modelled:")
    assert modelled["monthly_net_usd"] == made.summary.monthly_net_usd.now

    # One rig's agent reports every GPU drawing 40 W: mining where the inventory runs a miner, else idle.
    rig = next(
        r
        for r in fleet.rigs
        if any(g.model in {c.card.gpu_key for c in made.economics.cards} for g in r.gpus)
    )  # type: ignore[union-attr]
    report = RigTelemetry(
        rig=rig.name,
        timestamp=time.time(),
        gpus=[
            GpuTelemetry(index=g.index if g.index is not None else i, power_w=40.0)
            for i, g in enumerate(rig.gpus)
        ],
    )
    posted = httpx.post(url + "/internal/telemetry", content=report.model_dump_json(), headers=bearer(TOKEN))
    assert posted.status_code == 204
    live = _money(url, admin)["now"]
    expected = net_now(
        made, [LiveGpu(rig.site, g.model, "mining" if g.miner_running else "idle", 40.0) for g in rig.gpus]
    )
    assert live["basis"] == "mixed" and live["text"].startswith("live:")
    assert live["live_gpus"] == len(rig.gpus) and live["modelled_gpus"] == expected.modelled_gpus
    assert live["monthly_net_usd"] == expected.monthly_net_usd != modelled["monthly_net_usd"]
