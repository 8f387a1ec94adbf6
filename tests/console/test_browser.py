"""The console in a real browser (Playwright driving Debian's Chromium) against `rigshift up --demo`.

The demo stack is the real one: a local Ray cluster, the real llama-server serving the tiny
generated model, SQLite, the gateway; the fleet pages show the bundled demo farm, and one rig's
agent report (posted with the join token, as `rigshift agent` does) makes a GPU live and hot.
A screenshot of every page at 1366 px and at phone width goes to $RIGSHIFT_TEST_ARTIFACTS
(else a temp dir) for a person to look at.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from llama_server import needs_llama_server
from process_helpers import start_rigshift, wait_for_output
from rigshift.fleet.demo import demo_fleet
from rigshift.run.contracts import GpuTelemetry, RigTelemetry
from rigshift.server.demo_models import demo_specs
from rigshift.server.fleet_view import HOT_GPU_C
from rigshift.server.serving import free_port
from waiting import wait_until

from .chromium import LAPTOP, PHONE, artifacts_dir, browser_page, chromium_available

pytestmark = [
    pytest.mark.slow,
    needs_llama_server,
    pytest.mark.skipif(
        not chromium_available(), reason="chromium not installed: scripts/setup installs it (as root)"
    ),
]

PAGES = ("overview", "fleet", "econ", "serving", "energy", "ops")
MODEL = "rigshift-tiny"


@dataclass
class Demo:
    url: str
    admin_key: str
    demo_key: str
    join_token: str
    hot_rig: str
    output: list[str]

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method,
            self.url + path,
            headers={"authorization": f"Bearer {self.admin_key}"},
            timeout=60,
            **kwargs,
        )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("demo")
    port = free_port()
    log = tmp / "up.log"
    proc = start_rigshift(
        "up", "--demo", "--port", str(port), "--db", str(tmp / "up.db"),
        log=log, env={**os.environ, "XDG_DATA_HOME": str(tmp)},
    )  # fmt: skip
    try:
        found = wait_for_output(
            proc,
            log,
            {
                "admin": r"admin key \(shown once\): (\S+)",
                "demo": r"demo API key: (\S+)",
                "console": r"console: (http://\S+)/ ",
            },
            timeout=240,
        )
        lines = log.read_text(errors="replace").splitlines(keepends=True)
        hot_rig = demo_fleet().rigs[-1].name  # the rig the demo agent leaves silent (demo_agent.py)
        yield Demo(
            found["console"],
            found["admin"],
            found["demo"],
            (tmp / "join-token").read_text().strip(),
            hot_rig,
            lines,
        )
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def traffic(demo: Demo) -> int:
    """Real requests through the gateway to llama-server, and one agent report with a hot GPU."""
    client = openai.OpenAI(base_url=demo.url + "/v1", api_key=demo.demo_key, max_retries=0)
    for _ in range(3):
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=8
        )
    report = RigTelemetry(
        rig=demo.hot_rig,
        timestamp=time.time(),
        gpus=[GpuTelemetry(index=0, temperature_c=HOT_GPU_C + 6, power_w=140.0, memory_used_gib=5.5)],
    )
    posted = httpx.post(
        demo.url + "/internal/telemetry",
        content=report.model_dump_json(),
        headers={"authorization": f"Bearer {demo.join_token}"},
    )
    assert posted.status_code == 204
    return 3


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return artifacts_dir(tmp_path_factory, "console")


def log_in(page: Any, url: str, key: str) -> None:
    page.goto(url + "/")
    page.fill("#login-key", key)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#nav:not([hidden])")


def open_page(page: Any, url: str, name: str) -> None:
    page.goto(f"{url}/#{name}")
    page.wait_for_selector(f"#page[data-loaded={name}]")
    shown = page.locator("#page .card.error").all_inner_texts()
    assert not shown, f"{name}: {shown}"  # an API error the page caught and displayed


def test_every_page_renders_the_demo_cluster(
    demo: Demo, traffic: int, playwright: Any, artifacts: Path, tmp_path: Path
):
    with browser_page(playwright, tmp_path, LAPTOP) as page:
        log_in(page, demo.url, demo.admin_key)
        assert "admin" in page.inner_text("#who-name")

        open_page(page, demo.url, "overview")
        kpis = page.inner_text("#ov-kpis")
        assert "2,000" in kpis  # the demo farm's GPUs
        # the demo's replicas (chat, embeddings, rerank) on the local Ray cluster
        assert f"{len(demo_specs())} ready" in kpis
        hot = page.locator("#ov-alerts li[data-kind=hot_gpu]")
        assert f"{demo.hot_rig}/0" in hot.inner_text()
        page.screenshot(path=artifacts / "overview-1366.png", full_page=True)

        open_page(page, demo.url, "fleet")
        page.fill("#fl-rigs input[type=search]", "local")
        assert "local" in page.inner_text("#rigs-table")  # the demo's CPU rig serving demo-0
        page.fill("#fl-rigs input[type=search]", "")
        page.fill("#fl-gpus input[type=search]", demo.hot_rig)
        gpus = page.inner_text("#gpus-table")
        assert "live" in gpus and str(int(HOT_GPU_C + 6)) in gpus
        page.wait_for_selector("#fl-unlocks table")
        assert "GPUs" in page.inner_text("#fl-assess")
        page.screenshot(path=artifacts / "fleet-1366.png", full_page=True)
        page.fill("#fl-gpus input[type=search]", "")

        open_page(page, demo.url, "econ")
        assert page.locator("#ec-kpis .kpi").count() == 4
        from rigshift.econ.sensitivity import DEFAULT_POWER_FACTORS, DEFAULT_TOKEN_FACTORS

        # one cell per (power, token price) factor of the sweep
        assert page.locator("#sens-table td").count() == len(DEFAULT_POWER_FACTORS) * len(
            DEFAULT_TOKEN_FACTORS
        )
        assert "demo-0" in page.inner_text("#ec-desired")
        page.fill("#wf-power", "2")
        page.click("#whatif button[type=submit]")
        assert "power × 2" in page.locator("#whatif-result").inner_text()
        page.click("#plan-form button[type=submit]")
        page.wait_for_selector("#plan-out p:has-text('replicas')")
        page.screenshot(path=artifacts / "econ-1366.png", full_page=True)

        open_page(page, demo.url, "serving")
        replicas = page.inner_text("#replicas-table")
        assert "demo-0" in replicas and "ready" in replicas
        demo_key_id = demo.demo_key.split("_", 1)[0].removeprefix("rs-")
        usage_row = page.locator(f"#usage-table tr:has-text('{demo_key_id}')").inner_text()
        assert re.search(rf"\b{traffic}\b", usage_row), usage_row  # its requests, counted
        page.screenshot(path=artifacts / "serving-1366.png", full_page=True)

        open_page(page, demo.url, "energy")
        energy = demo.admin("GET", "/admin/energy")
        # no energy routes, energy not set up, or no energy loop (up --demo runs none)
        if energy.status_code in (404, 409, 503) or not energy.json().get("sites"):
            assert page.locator("#energy-not-configured").is_visible()
        else:
            assert page.locator("#energy-sites").is_visible()
        page.screenshot(path=artifacts / "energy-1366.png", full_page=True)

        open_page(page, demo.url, "ops")  # alerts with their history, actions, the audit log
        assert f"{demo.hot_rig}/0" in page.locator("#al-list li[data-kind=hot_gpu]").inner_text()
        page.screenshot(path=artifacts / "ops-1366.png", full_page=True)

    with browser_page(playwright, tmp_path, PHONE) as phone:
        log_in(phone, demo.url, demo.admin_key)
        for name in PAGES:
            open_page(phone, demo.url, name)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"] + 1, f"{name} scrolls sideways on a phone ({width} px)"
            phone.screenshot(path=artifacts / f"{name}-phone.png", full_page=True)
    assert len(list(artifacts.glob("*.png"))) >= 2 * len(PAGES)


def test_the_demo_agent_reports_and_the_overview_charts_its_history(
    demo: Demo, traffic: int, playwright: Any, tmp_path: Path
):
    """`up --demo` has a past: its agent's reports fill the rigs' telemetry and the history, and
    the Overview's charts draw the stored points (the 24 h farm power and tokens/s)."""
    assert any("demo agent:" in line for line in demo.output)

    def stored(series: str) -> list[list[float]]:
        answer = demo.admin("GET", "/admin/history", params={"series": series, "range": "24h"})
        assert answer.status_code == 200, answer.text
        return answer.json()["points"]

    wait_until(
        lambda: stored("site.power_w") and stored("model.tokens_per_s"), "history points", timeout_s=90
    )

    def reporting() -> int:
        rigs = demo.admin("GET", "/admin/fleet").json()["rigs"]
        return sum(r["telemetry_age_s"] is not None for r in rigs)

    # Every rig but the one left silent. The agent spreads a round's reports over its 10 s
    # interval, so the first history points can come before the first round is complete (245 of
    # 270 rigs had reported once in a fresh-clone run): wait for the round, not the first point.
    expected = len(demo_fleet().rigs) - 1
    wait_until(lambda: reporting() >= expected, f"{expected} rigs reporting", timeout_s=60, poll_s=1.0)
    with browser_page(playwright, tmp_path, LAPTOP) as page:
        log_in(page, demo.url, demo.admin_key)
        open_page(page, demo.url, "overview")
        for chart, series in (
            ("#ov-power-chart", "site.power_w"),
            ("#ov-tokens-chart", "model.tokens_per_s"),
        ):
            page.wait_for_selector(f"{chart} canvas")
            drawn = int(page.get_attribute(chart, "data-points") or 0)
            assert (
                drawn >= 1 and abs(drawn - len(stored(series))) <= 1
            )  # a 15-minute bucket may open meanwhile


def test_a_key_is_created_and_revoked_through_the_ui(demo: Demo, playwright: Any, tmp_path: Path):
    with browser_page(playwright, tmp_path, LAPTOP) as page:
        log_in(page, demo.url, demo.admin_key)
        open_page(page, demo.url, "serving")
        page.fill("#key-name", "acme-ui")
        page.fill("#key-models", MODEL)
        page.fill("#key-quota", "100000")
        page.click("#key-form button[type=submit]")
        secret = page.locator("#new-key").inner_text().strip()
        assert secret.startswith("rs-")
        row = page.locator("#keys-table tr:has-text('acme-ui')")
        assert "100,000/month" in row.inner_text()

        client = openai.OpenAI(base_url=demo.url + "/v1", api_key=secret, max_retries=0)
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )

        row.locator("button[data-revoke]").click()
        assert "acme-ui" in page.inner_text("#confirm-what")  # the confirm step says what will happen
        page.click("#confirm-ok")
        page.wait_for_selector("#keys-table tr:has-text('acme-ui'):has-text('revoked')")
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=4
            )


def test_a_tenant_sees_only_its_own_usage(demo: Demo, traffic: int, playwright: Any, tmp_path: Path):
    made = demo.admin("POST", "/admin/keys", json={"name": "tenant-b", "allowed_models": [MODEL]})
    tenant_id, tenant_key = made.json()["id"], made.json()["key"]
    client = openai.OpenAI(base_url=demo.url + "/v1", api_key=tenant_key, max_retries=0)
    client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=4)
    with browser_page(playwright, tmp_path, LAPTOP) as page:
        log_in(page, demo.url, tenant_key)
        page.wait_for_selector("#page[data-loaded=serving]")
        assert page.locator("nav a:visible").all_inner_texts() == ["Serving"]
        rows = page.locator("#usage-table tbody tr").all_inner_texts()
        assert len(rows) == 1 and tenant_id in rows[0]
        assert page.locator("#replicas-table, #keys-table").count() == 0
        status = page.evaluate("fetch('/admin/overview').then(r => r.status)")
        assert status == 403
        page.goto(demo.url + "/#fleet")  # an admin page, loaded afresh: the console falls back to Serving
        page.reload()
        page.wait_for_selector("#page[data-loaded=serving]")
        assert page.locator("#fl-rigs").count() == 0


def test_changes_without_the_csrf_token_are_refused(demo: Demo, playwright: Any, tmp_path: Path):
    before = len(demo.admin("GET", "/admin/keys").json()["data"])
    with browser_page(playwright, tmp_path, LAPTOP) as page:
        log_in(page, demo.url, demo.admin_key)
        # A script on the page (same origin, session cookie sent) that omits the header.
        result = page.evaluate(
            """fetch('/admin/keys', {method: 'POST', headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({name: 'forged'})}).then(async r => [r.status, await r.json()])"""
        )
        assert result[0] == 403 and result[1]["error"]["code"] == "csrf_failed"
        # Another site's request carrying the right token still fails on its Origin.
        token = page.evaluate("fetch('/console/session').then(r => r.json()).then(s => s.csrf_token)")
        forged = page.context.request.post(
            demo.url + "/admin/keys",
            data={"name": "forged"},
            headers={"Origin": "http://evil.example", "X-CSRF-Token": token},
        )
        assert forged.status == 403
    assert len(demo.admin("GET", "/admin/keys").json()["data"]) == before


# What `GET /admin/energy` answers where energy operations run (the energy service's status shape).
ENERGY = {
    "running": True,
    "sites": [
        {
            "site": "tx-ercot",
            "at": 1_790_000_000.0,
            "price_usd_mwh": 412.5,
            "price_missing": False,
            "limit_kw": 500.0,
            "planned_kw": 120.25,
            "unconstrained_kw": 410.0,
            "measured_kw": 118.0,
            "batch_allowed": False,
            "batch_paused": False,
            "event": {
                "id": "ev1",
                "site": "tx-ercot",
                "shed_kw": 250.0,
                "target_kw": None,
                "end": 1_790_003_600.0,
            },
            "decision": {
                "replicas": {"chat-8b": 12},
                "batch_on": False,
                "mining_on": False,
                "batch_tokens_per_s": 0.0,
                "in_event": True,
                "cards": {"interactive": 96, "batch": 0, "mining": 0, "off": 1112},
                "groups": [],
                "notes": ["price above the batch threshold"],
            },
        }
    ],
    "events": [
        {"id": "ev1", "site": "tx-ercot", "shed_kw": 250.0, "start": 1_790_000_000.0, "end": 1_790_003_600.0}
    ],
}


def test_the_energy_page_shows_prices_decisions_and_events(
    demo: Demo, playwright: Any, artifacts: Path, tmp_path: Path
):
    """The Energy page against the energy service's answer, served at the browser's network seam
    (`up --demo` runs no energy operations, so the real route has nothing to show there)."""
    import json

    with browser_page(playwright, tmp_path, LAPTOP) as page:
        page.route(
            "**/admin/energy",
            lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(ENERGY)),
        )
        log_in(page, demo.url, demo.admin_key)
        open_page(page, demo.url, "energy")
        assert "$412.5/MWh" in page.inner_text("#en-body .kpis")
        row = page.inner_text("#energy-sites")
        assert "tx-ercot" in row and "shed 250 kW" in row and "96 interactive" in row
        assert "price above the batch threshold" in row
        assert "ev1" in page.inner_text("#en-events")
        page.screenshot(path=artifacts / "energy-with-data-1366.png", full_page=True)


def test_names_are_shown_as_text_and_logout_ends_the_session(demo: Demo, playwright: Any, tmp_path: Path):
    hostile = '<img src=x onerror="document.body.dataset.pwned=1">'
    assert demo.admin("POST", "/admin/keys", json={"name": hostile}).status_code == 201
    with browser_page(playwright, tmp_path, LAPTOP) as page:
        log_in(page, demo.url, demo.admin_key)
        open_page(page, demo.url, "serving")
        assert hostile in page.inner_text("#keys-table")  # the markup as text, not an element
        assert page.get_attribute("body", "data-pwned") is None
        page.click("#logout")
        page.wait_for_selector("#login:not([hidden])")
        page.reload()
        page.wait_for_selector("#login:not([hidden])")  # the cookie no longer opens a session
        assert page.evaluate("fetch('/admin/keys').then(r => r.status)") == 401
