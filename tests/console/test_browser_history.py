"""History charts in a real browser (Playwright driving Debian's Chromium), on stored points.

A real control plane (SQLite) over a 60-GPU demo farm whose rigs report through the demo agent
over HTTP, a fake OpenAI backend serving real requests through the gateway: the Overview's and
the History page's charts must draw the points `GET /admin/history` returns, with their units,
hover values, and no sideways scroll at 390 px. Screenshots go to
$RIGSHIFT_TEST_ARTIFACTS/console-history (else a temp dir).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from tests.server.fake_backend import FakeBackendState, create_fake_backend

from rigshift.client.http import ControlPlaneClient
from rigshift.fleet.demo import demo_fleet
from rigshift.run.contracts import ReplicaEndpoint
from rigshift.run.demo_agent import DemoFarmAgent
from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.fleet_source import FleetSource
from rigshift.server.serving import serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.keys import KeyStore
from waiting import wait_until

from .chromium import LAPTOP, PHONE, artifacts_dir, browser_page, chromium_available
from .test_browser_decision import Farm, open_page

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not chromium_available(), reason="chromium not installed: scripts/setup installs it (as root)"
    ),
]


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    engine = open_engine(str(tmp_path_factory.mktemp("history") / "rigshift.db"))
    _key, admin = KeyStore(engine).create("admin", now=time.time(), admin=True)
    _key, tenant = KeyStore(engine).create("acme", now=time.time())
    backend = serve_in_thread(create_fake_backend(FakeBackendState()))
    fleet = demo_fleet(scale=60)
    rig = fleet.rigs[0]
    replica = ReplicaEndpoint(
        replica_id="r0",
        deployment="dep",
        model="tiny",
        base_url=backend.url,
        rig=rig.name,
        gpus=(f"{rig.name}/0",),
        state="ready",
    )
    settings = ServerSettings(join_token="t", history_flush_s=0.3)
    app = create_app(
        StaticDirectory([replica]), settings, engine=engine, fleet=FleetSource(lambda: fleet, "demo")
    )
    server = serve_in_thread(app)
    client = ControlPlaneClient(server.url, "t")
    agent = DemoFarmAgent(
        fleet,
        lambda r: client.call("POST", "/internal/telemetry", content=r.model_dump_json()),
        interval_s=0.5,
    )
    try:
        agent.report_round()  # every rig but the last, once, over HTTP with the join token
        ai = openai.OpenAI(base_url=server.url + "/v1", api_key=tenant, max_retries=0)
        for _ in range(4):
            ai.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}])
        f = Farm(server.url, admin)
        wait_until(
            lambda: f.get("/admin/history", series="model.tokens_per_s", range="24h")["points"], "tokens"
        )
        wait_until(
            lambda: f.get("/admin/history", series="rig.power_w", range="24h", rig=rig.name)["points"], "rig"
        )
        yield f
    finally:
        client.close()
        server.stop()
        backend.stop()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return artifacts_dir(tmp_path_factory, "console-history")


def chart(page: Any, selector: str) -> dict[str, Any]:
    page.wait_for_selector(f"{selector} canvas")
    return page.eval_on_selector(
        selector,
        "el => ({points: Number(el.dataset.points), last: Number(el.dataset.last), unit: el.dataset.unit,"
        " width: el.querySelector('canvas').getBoundingClientRect().width,"
        " drawn: (() => { const c = el.querySelector('canvas'); const d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4)"
        " if (d[i]) n++; return n; })()})",
    )


def stored(farm: Farm, series: str, range_: str, **params: str) -> list[list[float]]:
    return farm.get("/admin/history", series=series, range=range_, **params)["points"]


def test_the_charts_draw_the_stored_points(farm: Farm, playwright: Any, artifacts: Path, tmp_path: Path):
    rig = farm.get("/admin/history/subjects", series="rig.power_w")["data"][0]
    with browser_page(playwright, tmp_path, LAPTOP) as page:
        open_page(page, farm, "overview")
        tokens = chart(page, "#ov-tokens-chart")
        assert tokens["points"] == len(stored(farm, "model.tokens_per_s", "24h")) >= 1
        assert tokens["drawn"] > 200 and tokens["unit"] == "tokens/s"  # the canvas has a line on it
        assert chart(page, "#ov-power-chart")["points"] >= 1
        # Tables grow with their rows: the page scrolls, not a fixed-height box inside it.
        boxes = page.eval_on_selector_all(
            ".table-wrap",
            "els => els.map(e => [getComputedStyle(e).maxHeight, e.scrollHeight <= e.clientHeight + 1])",
        )
        assert boxes and all(box == ["none", True] for box in boxes), boxes
        page.screenshot(path=artifacts / "overview-1366.png", full_page=True)

        open_page(page, farm, "history")
        page.select_option("#hi-rig", rig)
        page.wait_for_function(
            "r => document.querySelector('#hi-rig-power').dataset.series === 'rig.power_w'"
            " && document.querySelector('#hi-rig').value === r",
            arg=rig,
        )
        power = chart(page, "#hi-rig-power")
        points = stored(farm, "rig.power_w", "24h", rig=rig)
        assert power["points"] == len(points) and power["last"] == pytest.approx(points[-1][1])
        requests = chart(page, "#hi-requests")
        assert requests["points"] == len(stored(farm, "model.requests_per_min", "24h")) + len(
            stored(farm, "model.errors_per_min", "24h")
        )
        # Hovering shows the value under the cursor, with its unit, and the date.
        box = page.locator("#hi-rig-power .u-over").bounding_box()
        page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
        legend = page.inner_text("#hi-rig-power .u-legend")
        assert " W" in legend or " kW" in legend
        page.click("#hi-ranges button[data-range='1h']")
        page.wait_for_function(
            "document.querySelector('#hi-ranges [aria-pressed=true]').dataset.range === '1h'"
        )
        wait_until(
            lambda: chart(page, "#hi-rig-power")["points"] == len(stored(farm, "rig.power_w", "1h", rig=rig)),
            "the 1 h chart",
        )
        page.screenshot(path=artifacts / "history-1366.png", full_page=True)

    with browser_page(playwright, tmp_path, PHONE) as phone:
        for name in ("overview", "history"):
            open_page(phone, farm, name)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"] + 1, f"{name} scrolls sideways on a phone ({width} px)"
            phone.screenshot(path=artifacts / f"{name}-phone.png", full_page=True)
            phone.screenshot(path=artifacts / f"{name}-phone-top.png")  # what a phone shows first
        assert 250 <= chart(phone, "#hi-power")["width"] <= PHONE["width"]
