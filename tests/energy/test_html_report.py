"""`energy simulate --html`: dated axes, price bands, the decisions per role, the strategies side
by side, no JSON dump; and in a real browser, readable at 390 px without sideways scroll."""

from __future__ import annotations

import html
import itertools
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from console.chromium import LAPTOP, PHONE, artifacts_dir, browser_page, chromium_available
from rigshift.cli.app import app
from rigshift.energy.html import render_report, time_ticks
from rigshift.energy.prices import DEMO_PRICES

T0 = int(datetime(2024, 2, 12, tzinfo=UTC).timestamp())
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def totals(net: float, **more: Any) -> dict[str, Any]:
    return {
        "net_usd": net,
        "energy_cost_usd": 100.0,
        "token_revenue_usd": 50.0,
        "mining_revenue_usd": 75.0,
        "batch_deadlines_met": 3,
        "batch_deadlines_total": 4,
        "slo_minutes_lost": 0,
        **more,
    }


def simulation(prices: list[float], **top: Any) -> dict[str, Any]:
    """The JSON `energy simulate --json` prints, for an hourly price list at one site."""
    rows = [
        {
            "site": "tx",
            "start": T0 + 3600 * i,
            "usd_per_mwh": p,
            "policy_kw": 0.0 if p >= 1000 else 50.0,
            "always_on_kw": 80.0,
            "mining_only_kw": 60.0,
            "replicas": 2,
            "batch_cards": 0 if p >= 100 else 4,
            "mining_cards": 0 if p >= 1000 else 10,
            "off_cards": 14 if p >= 1000 else 0,
        }
        for i, p in enumerate(prices)
    ]
    data: dict[str, Any] = {
        "policy": totals(1000.0),
        "always_on": totals(-500.0),
        "mining_only": totals(200.0),
        "intervals": rows,
        "events": [],
        "inputs": {"prices": {}, "farm": {"provenance": ["tokens/s: the estimator (prior)"]}},
        "seconds": 0.5,
    }
    data.update(top)
    return data


def test_ticks_are_calendar_dates_for_a_year_a_week_and_a_day() -> None:
    year = time_ticks(
        datetime(2024, 1, 1, 6, tzinfo=UTC).timestamp(), datetime(2025, 1, 1, 6, tzinfo=UTC).timestamp()
    )
    labels = [t.label for t in year]
    assert labels[0] == "Feb 2024" and labels[1:4] == ["Mar", "Apr", "May"]
    assert all(datetime.fromtimestamp(t.t, UTC).day == 1 for t in year)  # month starts
    week = time_ticks(T0, T0 + 7 * 86400)
    assert [t.label for t in week][:3] == ["Feb 12", "Feb 13", "Feb 14"]
    hours = time_ticks(T0 + 3 * 3600, T0 + 27 * 3600)
    assert hours[0].label == "Feb 12 03:00" and "Feb 13 00:00" in [t.label for t in hours]
    for ticks, (a, b) in ((year, (0, 1e12)), (week, (T0, T0 + 7 * 86400))):
        stamps = [t.t for t in ticks]
        assert stamps == sorted(stamps) and a <= stamps[0] and stamps[-1] < b


def test_price_bands_are_shaded_where_the_price_reaches_them() -> None:
    prices = [20.0] * 48
    prices[10] = 150.0  # one hour in the $100 band
    prices[30] = 2500.0  # one in the $1,000 band (and so the $100 one)
    page = render_report(simulation(prices))
    span = 48 * 3600
    hot = {
        cls: [float(x) for x in re.findall(rf'<rect class="{cls}" x="([\d.]+)"', page)]
        for cls in ("band-100", "band-1000")
    }
    # Three plots per site, each shading every band: positions in the plot's 0..1000 user space.
    assert sorted(set(hot["band-1000"])) == [pytest.approx(30 / 48 * 1000, abs=0.1)]
    assert sorted(set(hot["band-100"])) == [
        pytest.approx(10 / 48 * 1000, abs=0.1),
        pytest.approx(30 / 48 * 1000, abs=0.1),
    ]
    # the decisions per role: the 14 off cards appear only in the spike's hour
    off = re.findall(r'data-role="off" x="([\d.]+)"', page)
    assert [float(x) for x in off] == [pytest.approx(30 / 48 * 1000, abs=0.1)]
    ticks = re.findall(r"<span class='tick[^']*' data-t='(\d+)'", page)
    assert ticks and all(T0 <= int(t) < T0 + span for t in ticks)


def test_strategies_side_by_side_best_baseline_named_and_a_loss_said_plainly() -> None:
    data = simulation(
        [20.0] * 24,
        mining_curtailed=totals(1500.0, hours_off=4000, power_credit_usd=12.5),
        ai_curtailed=totals(300.0, hours_off=100),
        best_baseline="mining_curtailed",
        high_price_hours={"hours": 12, "energy_cost_usd": 300.0, "revenue_usd": 50.0},
    )
    page = render_report(data)
    table = page[page.index("<table id='strategies'") : page.index("</table>") + 8]
    heads = [
        html.unescape(h).replace("\u00ad", "") for h in re.findall(r"<th scope='col'[^>]*>([^<]+)", table)
    ]
    assert heads == ["policy", "mining curtailed", "AI curtailed", "always on", "mining only"]
    assert "hours fully off" in table and "power credit" in table and "3 of 4" in table
    verdict = page[page.index('id="verdict"') :]
    verdict = verdict[: verdict.index("</p>")]
    assert "loses to mining curtailed" in verdict and "$500 less" in verdict
    high = page[page.index("id='high-price'") :]
    assert "12 hours" in high[:200] and "spent more than it earned" in high[:300]
    idle = render_report(
        {**data, "high_price_hours": {"hours": 8, "energy_cost_usd": 0.0, "revenue_usd": 0.0}}
    )
    assert "ran nothing" in idle and "earned more" not in idle


def test_no_json_dump_and_absurd_values_do_not_break_the_page() -> None:
    data = simulation([20.0, float("nan"), 1e9, -1e9, 30.0])
    data["intervals"][2]["policy_kw"] = "lots"
    data["intervals"][3]["replicas"] = None
    data["always_on"]["net_usd"] = float("inf")
    data["inputs"]["farm"]["provenance"].append("<script>alert(1)</script>")
    data["events"] = [{"site": "tx", "shed_kw_asked": "lots", "target_kw": 300.0, "intervals": 4}, "junk"]
    page = render_report(data)
    assert "asked to stay under 300 kW" in page
    assert "<pre" not in page and '{"' not in page and "<script" not in page
    assert "&lt;script&gt;" in page
    assert "nan" not in re.sub(r"<[^>]+>", "", page).lower().split("inputs")[0]


@pytest.fixture(scope="module")
def year_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report for the bundled year of ERCOT prices, through the CLI."""
    report = tmp_path_factory.mktemp("energy-html") / "energy.html"
    result = CliRunner().invoke(
        app, ["energy", "simulate", "--demo", "--prices", str(DEMO_PRICES), "--html", str(report)]
    )
    assert result.exit_code == 0, result.output
    return report


def test_the_year_report_has_every_plot_and_dated_ticks(year_report: Path) -> None:
    page = year_report.read_text()
    assert page.count("<figure class='plot") == 3
    ticks = re.findall(r"<span class='tick[^']*' data-t='\d+' style='[^']*'>([^<]+)<", page)
    # Each of the three plots: the month starts, Feb 2024 to Dec (the span starts Jan 1, 06:00 UTC)
    assert ticks == ["Feb 2024", *MONTHS[2:]] * 3


@pytest.mark.slow
@pytest.mark.skipif(
    not chromium_available(), reason="chromium not installed: scripts/setup installs it (as root)"
)
def test_the_report_reads_at_390_px_without_sideways_scroll(
    year_report: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from playwright.sync_api import sync_playwright

    artifacts = artifacts_dir(tmp_path_factory, "energy-html")
    with sync_playwright() as playwright:
        for name, viewport in (("phone", PHONE), ("laptop", LAPTOP)):
            with browser_page(playwright, tmp_path, viewport) as page:
                page.goto(year_report.as_uri())
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= viewport["width"], f"{name}: the page scrolls sideways ({width} px)"
                boxes = page.evaluate(
                    """() => [...document.querySelectorAll('figure.price .tick')]
                        .filter((e) => getComputedStyle(e).visibility !== 'hidden')
                        .map((e) => { const r = e.getBoundingClientRect();
                                      return {text: e.textContent, left: r.left, right: r.right}; })"""
                )
                assert len(boxes) >= (5 if name == "phone" else 11), boxes
                assert all(b["text"][:3] in MONTHS for b in boxes)
                for a, b in itertools.pairwise(boxes):
                    assert a["right"] <= b["left"], f"{name}: tick labels overlap: {a} {b}"
                assert max(b["right"] for b in boxes) <= viewport["width"]
                font = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.tick')).fontSize)")
                assert font >= 10  # labels keep their size: the plot stretches, the text does not
                page.screenshot(path=artifacts / f"energy-report-{name}.png", full_page=True)
