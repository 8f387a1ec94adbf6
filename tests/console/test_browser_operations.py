"""Alerts and the operator's actions in the console, in a real browser (Playwright driving Debian's
Chromium) against the real control plane in this process (SQLite, a 60-GPU demo fleet, one
replica, an agent's report of a hot GPU posted with the join token).

An action is confirmed in the console's dialog, which says what will happen; the audit log on the
same page then shows it with the admin key's name, and the server's state changed (a cancelled
dialog changes nothing). Screenshots at 1366 px and 390 px go to
$RIGSHIFT_TEST_ARTIFACTS/console-operations (else a temp dir).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rigshift.fleet.demo import demo_fleet
from rigshift.run.contracts import GpuTelemetry, ReplicaEndpoint, RigTelemetry
from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.fleet_source import FleetSource
from rigshift.server.fleet_view import HOT_GPU_C
from rigshift.server.serving import serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.keys import KeyStore

from .chromium import LAPTOP, PHONE, artifacts_dir, browser_page, chromium_available
from .helpers import Plane, bearer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not chromium_available(), reason="chromium not installed: scripts/setup installs it (as root)"
    ),
]

JOIN = "join-token-for-operations"
FLEET = demo_fleet(scale=60)
HOT_RIG, QUIET_RIG = FLEET.rigs[0].name, FLEET.rigs[1].name


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plane]:
    engine = open_engine(str(tmp_path_factory.mktemp("operations") / "rigshift.db"))
    _key, admin = KeyStore(engine).create("night-shift", now=time.time(), admin=True)
    replica = ReplicaEndpoint(
        replica_id="r0", deployment="dep", model="tiny", base_url="http://127.0.0.1:9", rig=HOT_RIG,
        gpus=(f"{HOT_RIG}/0",), state="ready",
    )  # fmt: skip
    settings = ServerSettings(join_token=JOIN, files_dir=str(tmp_path_factory.mktemp("files")))
    app = create_app(
        StaticDirectory([replica]), settings, engine=engine, fleet=FleetSource(lambda: FLEET, "demo, 60 GPUs")
    )
    server = serve_in_thread(app)
    report = RigTelemetry(
        rig=HOT_RIG, timestamp=time.time(), gpus=[GpuTelemetry(index=0, temperature_c=HOT_GPU_C + 4)]
    )
    posted = httpx.post(
        server.url + "/internal/telemetry",
        content=report.model_dump_json(),
        headers={"authorization": f"Bearer {JOIN}"},
    )
    assert posted.status_code == 204
    try:
        yield Plane(server, engine, admin)
    finally:
        server.stop()


def open_ops(page: Any, plane: Plane) -> None:
    page.goto(plane.url + "/")
    page.fill("#login-key", plane.admin_key)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#nav:not([hidden])")
    page.goto(plane.url + "/#ops")
    page.wait_for_selector("#page[data-loaded=ops]")
    assert not page.locator("#page .card.error").all_inner_texts()


def audit(plane: Plane) -> list[dict[str, Any]]:
    return httpx.get(plane.url + "/admin/audit", headers=bearer(plane.admin_key)).json()["data"]


def test_an_alert_is_acknowledged_and_a_confirmed_drain_is_in_the_audit_log(
    plane: Plane, playwright: Any, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    artifacts = artifacts_dir(tmp_path_factory, "console-operations")
    with browser_page(playwright, tmp_path, LAPTOP) as page:
        open_ops(page, plane)
        hot = page.locator("#al-list li[data-kind=hot_gpu]")
        assert f"{HOT_RIG}/0" in hot.inner_text()
        hot.locator("button[data-ack]").click()
        page.wait_for_selector("#al-list li[data-kind=hot_gpu] .acked")
        assert "acknowledged by night-shift" in page.inner_text("#al-list li[data-kind=hot_gpu]")

        # Cancelled: the dialog said what would happen, and nothing happened.
        page.fill("#rig-name", QUIET_RIG)
        page.click("#drain-button")
        assert QUIET_RIG in page.inner_text("#confirm-what")
        page.click("#confirm-cancel")
        assert [e["action"] for e in audit(plane)] == ["alert.ack"]

        # Confirmed: the rig is drained, and the audit log on the page says who did it.
        page.fill("#rig-name", HOT_RIG)
        page.fill("#rig-reason", "fan failure")
        page.click("#drain-button")
        what = page.inner_text("#confirm-what")
        assert HOT_RIG in what and "r0" in what and "fan failure" in what  # its replica, and the reason
        page.screenshot(path=artifacts / "confirm-drain-1366.png")
        page.click("#confirm-ok")
        row = page.locator("#audit-table tr:has-text('rig.drain')")
        row.wait_for()
        assert HOT_RIG in row.inner_text() and "night-shift" in row.inner_text()
        assert HOT_RIG in page.inner_text("#drains-table")
        drains = httpx.get(plane.url + "/admin/drains", headers=bearer(plane.admin_key)).json()["data"]
        assert [(d["rig"], d["drained_by"], d["reason"]) for d in drains] == [
            (HOT_RIG, "night-shift", "fan failure")
        ]
        page.screenshot(path=artifacts / "operations-1366.png", full_page=True)

        # Undrain from the drained rigs' table, confirmed the same way.
        page.click(f"#drains-table button[data-undrain='{HOT_RIG}']")
        page.click("#confirm-ok")
        page.locator("#audit-table tr:has-text('rig.undrain')").wait_for()
        assert httpx.get(plane.url + "/admin/drains", headers=bearer(plane.admin_key)).json()["data"] == []

    with browser_page(playwright, tmp_path, PHONE) as page:
        open_ops(page, plane)
        page.locator("#audit-table tr:has-text('rig.drain')").wait_for()
        # Nothing scrolls the page sideways at phone width.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        page.screenshot(path=artifacts / "operations-390.png", full_page=True)


def test_a_demand_dry_run_shows_the_replicas_and_an_apply_without_a_cluster_is_refused(
    plane: Plane, playwright: Any, tmp_path: Path
) -> None:
    before = len(audit(plane))
    with browser_page(playwright, tmp_path, LAPTOP) as page:
        open_ops(page, plane)
        page.click("#demand-dry")
        summary = page.locator("#demand-summary")
        summary.wait_for()
        assert "Dry run" in summary.inner_text() and "replica(s)" in summary.inner_text()
        page.locator("#audit-table tr:has-text('demand.dry_run')").wait_for()
        # Apply: the dialog says what the plan becomes; this server has no cluster, so the refusal
        # is shown and nothing is applied or logged as applied.
        page.click("#demand-apply")
        assert "The plan now running (0 replica(s)) is replaced by" in page.inner_text("#confirm-what")
        page.click("#confirm-ok")
        page.wait_for_selector("#op-result .error")
        assert "no cluster" in page.inner_text("#op-result")
    deployments = httpx.get(plane.url + "/admin/deployments", headers=bearer(plane.admin_key)).json()["data"]
    assert deployments == [] and [e["action"] for e in audit(plane)[:2]] == [
        "demand.dry_run",
        "demand.dry_run",
    ]
    assert len(audit(plane)) == before + 2  # the dry run, and the one the Apply button shows first


def test_a_demand_response_event_is_started_and_ended_from_the_console(
    plane: Plane, playwright: Any, tmp_path: Path
) -> None:
    site = FLEET.sites[0].name
    with browser_page(playwright, tmp_path, LAPTOP) as page:
        open_ops(page, plane)
        page.fill("#ev-site", site)
        page.fill("#ev-shed", "12.5")
        page.fill("#ev-minutes", "30")
        page.click("#event-form button[type=submit]")
        what = page.inner_text("#confirm-what")
        assert site in what and "12.5 kW" in what
        page.click("#confirm-ok")
        page.locator("#audit-table tr:has-text('event.start')").wait_for()
        [event] = httpx.get(plane.url + "/admin/energy/events", headers=bearer(plane.admin_key)).json()[
            "data"
        ]
        assert (event["site"], event["shed_kw"], event["cancelled_at"]) == (site, 12.5, None)
        assert 29 * 60 < event["end_at"] - event["start_at"] <= 30 * 60 + 5
        page.click(f"#events-table button[data-end='{event['id']}']")
        page.click("#confirm-ok")
        page.locator("#audit-table tr:has-text('event.end')").wait_for()
    [ended] = httpx.get(plane.url + "/admin/energy/events", headers=bearer(plane.admin_key)).json()["data"]
    assert ended["cancelled_at"] is not None
