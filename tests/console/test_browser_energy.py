"""The console's Energy page in a real browser (Playwright driving Debian's Chromium).

The server is the real control plane with the real energy loop built from examples/energy.yaml
(the example farm, ERCOT's 2024 day-ahead prices), ticked through the day and a half around the
year's dearest hour on a test clock: the page charts the prices the loop decided on, with the
$100 and $1,000/MWh bands, and the cards it gave each role. A plane without a loop says that
energy is not configured; stored absurd values do not break the page. Screenshots at 1366 px and
390 px go to $RIGSHIFT_TEST_ARTIFACTS/console-energy (else a temp dir).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rigshift.energy.prices import DEMO_PRICES, read_price_series
from rigshift.energy.wiring import build_energy_loop
from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.serving import serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.energy_events import EnergyEventStore
from rigshift.server.stores.keys import KeyStore

from .chromium import LAPTOP, PHONE, artifacts_dir, browser_page, chromium_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not chromium_available(), reason="chromium not installed: scripts/setup installs it (as root)"
    ),
]

REPO = Path(__file__).resolve().parents[2]
STEP = 300


def serve(tmp: Path, with_loop: bool) -> Iterator[tuple[str, str, float]]:
    engine = open_engine(str(tmp / "rigshift.db"))
    _key, admin = KeyStore(engine).create("admin", now=time.time(), admin=True)
    loop, dearest = None, 0.0
    if with_loop:
        year = read_price_series(DEMO_PRICES)
        i = int(np.argmax(year.usd_per_kwh))
        dearest = float(year.usd_per_kwh[i] * 1000)
        start = int(year.starts[i]) - 18 * 3600
        loop, _ = build_energy_loop(REPO / "examples" / "energy.yaml", EnergyEventStore(engine))
        for k in range(36 * 3600 // STEP):  # the loop's own steps, on a test clock
            loop.tick(start + k * STEP)
    app = create_app(StaticDirectory([]), ServerSettings(join_token="t"), engine=engine, energy_loop=loop)
    server = serve_in_thread(app)
    try:
        yield server.url, admin, dearest
    finally:
        server.stop()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, float]]:
    yield from serve(tmp_path_factory.mktemp("energy-on"), with_loop=True)


@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, float]]:
    yield from serve(tmp_path_factory.mktemp("energy-off"), with_loop=False)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return artifacts_dir(tmp_path_factory, "console-energy")


def texts(locator: Any) -> list[str]:
    """The text of SVG elements (Playwright's inner_text reads HTML elements only)."""
    return locator.evaluate_all("els => els.map((e) => e.textContent)")


def open_energy(page: Any, url: str, key: str) -> None:
    page.goto(url + "/")
    page.fill("#login-key", key)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#nav:not([hidden])")
    page.goto(url + "/#energy")
    page.wait_for_selector("#page[data-loaded=energy]")
    assert not page.locator("#page .card.error").all_inner_texts()


def test_the_page_charts_the_prices_and_the_policys_hours(
    running: tuple[str, str, float], playwright: Any, artifacts: Path, tmp_path: Path
) -> None:
    url, key, dearest = running
    for name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        with browser_page(playwright, tmp_path, viewport) as page:
            open_energy(page, url, key)
            site = page.locator(".energy-site[data-site=tx-ercot]")
            assert site.is_visible()
            ticks = texts(site.locator(".energy-price text.tick"))
            assert len(ticks) >= 3 and any(t.startswith("May ") for t in ticks), ticks  # dated: May 2024
            # the dearest hour of 2024 ($2,224.74) is in the $1,000 band, and its title says so
            spike = site.locator(".energy-price rect.band-1000")
            assert spike.count() >= 1
            assert f"${dearest:,.1f}/MWh" in texts(spike.first.locator("title"))[0]
            assert site.locator(".energy-price rect.band-100").count() > spike.count()
            roles = set(
                site.locator(".energy-hours rect[data-role]").evaluate_all(
                    "rs => rs.map(r => r.dataset.role)"
                )
            )
            assert "mining" in roles
            hours = site.locator("[data-hours]").inner_text()
            assert "card-hours" in hours and "mining" in hours
            assert page.locator("#energy-sites").is_visible()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{name}: the Energy page scrolls sideways ({width} px)"
            page.screenshot(path=artifacts / f"energy-{name}.png", full_page=True)


def test_without_an_energy_loop_the_page_says_energy_is_not_configured(
    idle: tuple[str, str, float], playwright: Any, artifacts: Path, tmp_path: Path
) -> None:
    url, key, _ = idle
    with browser_page(playwright, tmp_path, PHONE) as page:
        open_energy(page, url, key)
        notice = page.locator("#energy-not-configured")
        assert notice.is_visible()
        assert "not configured" in notice.inner_text() and "--energy" in notice.inner_text()
        assert page.locator("#energy-sites").count() == 0 and page.locator("table").count() == 0
        page.screenshot(path=artifacts / "energy-not-configured-390.png", full_page=True)


# What a corrupted or hostile store could hand the page: numbers that are not numbers, out of any
# plausible range, times before 2000 or past 2100, a role count below zero.
ABSURD = {
    "running": True,
    "sites": [
        {
            "site": "tx<b>",
            "price_usd_mwh": 1e308,
            "planned_kw": "lots",
            "limit_kw": -5,
            "measured_kw": None,
            "event": {"shed_kw": "x", "target_kw": 1e300, "end": 1e300},
            "decision": {
                "cards": {"interactive": -3, "batch": "2", "mining": 4, "off": 1e99},
                "notes": [7, None],
            },
            "history": {
                "at": [1_715_200_000, 1_715_200_300, -5, "soon", 1_715_200_600, 1e300],
                "price_usd_mwh": [20.0, 1e308, 30.0, 40.0, -1e200, 50.0],
                "power_kw": [1, 2, 3, 4, 5, 6],
                "interactive": [1, -1, 1, 1, 1, 1],
                "mining": [4, 4, "4", 4, 1e99, 4],
            },
        },
        None,
        "junk",
    ],
    "events": [{"id": 1, "site": ["a"], "start": "yesterday", "end": 1e300, "shed_kw": -1}, 5],
}


def test_absurd_stored_values_show_as_dashes_not_errors(
    running: tuple[str, str, float], playwright: Any, tmp_path: Path
) -> None:
    url, key, _ = running
    with browser_page(playwright, tmp_path, PHONE) as page:  # fails on any script error
        page.route(
            "**/admin/energy",
            lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(ABSURD)),
        )
        open_energy(page, url, key)
        body = page.inner_text("#en-body")
        assert "NaN" not in body and "Infinity" not in body and "Invalid" not in body
        assert page.inner_text(".kpis .kpi .v") == "–"
        assert "tx<b>" in body  # a name is text, never markup
        # only the plausible price is charted: the y axis stays in dollars, not 1e308
        labels = texts(page.locator(".energy-price text.ylabel"))
        assert labels and max(len(x) for x in labels) <= 8, labels
        assert page.locator(".energy-price path.price-line").get_attribute("d").count("M") == 1
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
