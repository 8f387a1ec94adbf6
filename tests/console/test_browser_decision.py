"""The farm decision in the console, in a real browser (Playwright driving Debian's Chromium).

The server is the real control plane on the bundled 2,000-GPU demo farm, in this process, with no
serving cluster (the decision needs none): what the Overview and the Economics page show is checked
against the decision the API returns, and screenshots at 1366 px and 390 px go to
$RIGSHIFT_TEST_ARTIFACTS/console-decision (else a temp dir) for a person to look at.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.fleet_source import FleetSource
from rigshift.server.serving import serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.keys import KeyStore

from .chromium import LAPTOP, PHONE, artifacts_dir, browser_page, chromium_available
from .helpers import bearer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not chromium_available(), reason="chromium not installed: scripts/setup installs it (as root)"
    ),
]

LOSS = "#dc2626"  # charts.js: a loss is red, a gain green, whatever the bar stands for
GAIN = "#059669"
STEPS = ("gpus", "capable", "hostable", "viable", "converted", "placed")


class Farm:
    def __init__(self, url: str, admin_key: str):
        self.url, self.admin_key = url, admin_key

    def get(self, path: str, **params: object) -> Any:
        response = httpx.get(self.url + path, params=params, headers=bearer(self.admin_key), timeout=120)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    engine = open_engine(str(tmp_path_factory.mktemp("decision") / "rigshift.db"))
    _key, admin = KeyStore(engine).create("admin", now=time.time(), admin=True)
    app = create_app(
        StaticDirectory([]), ServerSettings(join_token="t"), engine=engine, fleet=FleetSource.demo()
    )
    server = serve_in_thread(app)
    try:
        yield Farm(server.url, admin)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return artifacts_dir(tmp_path_factory, "console-decision")


def open_page(page: Any, farm: Farm, name: str) -> None:
    if page.url == "about:blank":
        page.goto(farm.url + "/")
        page.fill("#login-key", farm.admin_key)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#nav:not([hidden])")
    page.goto(f"{farm.url}/#{name}")
    page.wait_for_selector(f"#page[data-loaded={name}]")
    assert not page.locator("#page .card.error").all_inner_texts()


def funnel_counts(page: Any, where: str) -> dict[str, int]:
    return {
        step: int(page.get_attribute(f"{where} .funnel g[data-step={step}]", "data-count")) for step in STEPS
    }


def sideways(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def test_the_overview_leads_with_the_decisions_funnel_and_verdict(
    farm: Farm, playwright: Any, artifacts: Path, tmp_path: Path
):
    decision = farm.get("/admin/overview")["decision"]
    for viewport, name in ((LAPTOP, "1366"), (PHONE, "390")):
        with browser_page(playwright, tmp_path, viewport, 120_000) as page:
            open_page(page, farm, "overview")
            page.wait_for_selector("#ov-decision .funnel")
            assert funnel_counts(page, "#ov-decision") == decision["funnel"]
            text = page.inner_text("#ov-decision")
            assert decision["verdict"] in text
            now = decision["monthly_net_usd"]["now"]
            assert f"−${abs(now):,.0f}" in text if now < 0 else f"${now:,.0f}" in text
            assert "published 5-15%" in page.text_content("#ov-decision .funnel svg")
            # "now" is labelled as the model's assumption beside the live inventory, never as it
            assert "modelled:" in text and "The inventory shows" in text
            # The decision comes before the live figures.
            order = page.evaluate("[...document.querySelectorAll('#ov-decision, #ov-kpis')].map(e => e.id)")
            assert order == ["ov-decision", "ov-kpis"]
            page.screenshot(path=artifacts / f"overview-{name}.png", full_page=True)
            if viewport is LAPTOP:  # the next poll keeps the decision and refreshes the live note
                first = page.inner_text("#ov-source")
                page.wait_for_function(
                    "t => document.querySelector('#ov-source').textContent !== t", arg=first, timeout=30_000
                )
                assert funnel_counts(page, "#ov-decision") == decision["funnel"]
                assert "The inventory shows" in page.inner_text("#ov-decision .live-note")
            if viewport is PHONE:
                assert sideways(page) <= PHONE["width"] + 1


def test_the_economics_page_colours_money_by_sign_and_tables_the_placement(
    farm: Farm, playwright: Any, artifacts: Path, tmp_path: Path
):
    econ = farm.get("/admin/econ")
    made = farm.get("/admin/decision")
    with browser_page(playwright, tmp_path, LAPTOP, 120_000) as page:
        open_page(page, farm, "econ")
        uses = econ["totals"]["by_use"]
        assert any(u["net_usd_day"] < 0 for u in uses)  # the demo's loss-making uses
        for use in uses:
            bar = page.locator(f'#ec-uses rect[data-label^="{use["use"]} ("]')
            assert bar.get_attribute("fill") == (LOSS if use["net_usd_day"] < 0 else GAIN), use
        kpis = page.inner_text("#ec-kpis")
        money = made["money"]
        assert f"${money['capex_usd']:,.0f}" in kpis and f"${money['sale_proceeds_usd']:,.0f}" in kpis
        assert "net capex" not in kpis
        rows = page.locator("#placement-table tbody tr")
        assert rows.count() == len(made["placement"]) == made["decision"]["placement"]["replicas"]
        shown = sorted(rows.nth(i).locator("td").first.inner_text() for i in range(rows.count()))
        assert shown == sorted(r["rig"] for r in made["placement"])
        assert funnel_counts(page, "#ec-decision") == made["decision"]["funnel"]
        page.screenshot(path=artifacts / "econ-1366.png", full_page=True)


def test_the_what_if_sliders_recompute_the_servers_decision(
    farm: Farm, playwright: Any, artifacts: Path, tmp_path: Path
):
    with browser_page(playwright, tmp_path, LAPTOP, 120_000) as page:
        open_page(page, farm, "econ")
        page.fill("#wf-token", "2")
        page.fill("#wf-demand", "4")
        page.fill("#wf-ttft", "5")
        page.click("#whatif button[type=submit]")
        # Each slider let go asks too; only the latest question's answer is drawn.
        page.wait_for_selector("#whatif-result:has-text('demand × 4'):has-text('within 5 s')")
        expected = farm.get("/admin/decision", token_factor=2, demand_factor=4, max_ttft_s=5)
        assert funnel_counts(page, "#whatif-decision") == expected["decision"]["funnel"]
        assert expected["decision"]["verdict"] in page.inner_text("#whatif-decision")
        rows = page.locator("#whatif-placement-table tbody tr")
        assert rows.count() == len(expected["placement"])
        page.screenshot(path=artifacts / "econ-what-if-1366.png", full_page=True)
        page.fill("#wf-power", "2")  # a slider alone, no button: the server answers for it
        page.wait_for_selector("#whatif-result:has-text('power × 2,')")
        again = farm.get("/admin/decision", power_factor=2, token_factor=2, demand_factor=4, max_ttft_s=5)
        assert again["decision"]["verdict"] in page.inner_text("#whatif-decision")


def test_a_placed_demand_shows_as_a_placement_table(
    farm: Farm, playwright: Any, artifacts: Path, tmp_path: Path
):
    with browser_page(playwright, tmp_path, PHONE, 120_000) as page:
        open_page(page, farm, "econ")
        page.click("#plan-form button[type=submit]")
        page.wait_for_selector("#plan-placement-table")
        replicas = int(page.inner_text("#plan-summary").split(" ", 1)[0].replace(",", ""))
        assert 4 <= replicas <= 40  # the demand's replicas: {min: 4, max: 40}
        assert page.locator("#plan-placement-table tbody tr").count() == replicas
        assert "milp" not in page.inner_text("#plan-out") and "optimal" not in page.inner_text("#plan-out")
        assert sideways(page) <= PHONE["width"] + 1
        page.screenshot(path=artifacts / "econ-390.png", full_page=True)
