"""The HTML reports (assess, econ, plan, energy simulate) on a 390 px phone, in Chromium: the page
never scrolls sideways (charts shrink, wide tables scroll inside themselves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rigshift.cli.app import app

from .chromium import PHONE, browser_page, chromium_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not chromium_available(), reason="chromium not installed: scripts/setup installs it (as root)"
    ),
]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REPORTS = {
    "assess": ["assess", "--demo", "--scale", "200"],
    "econ": ["econ", "--demo"],
    "plan": ["plan", "--demo"],
    "energy": ["energy", "simulate", "--demo", "--prices", str(EXAMPLES / "prices" / "plain_hourly.csv")],
}


@pytest.mark.parametrize("name", list(REPORTS))
def test_a_report_does_not_scroll_sideways_on_a_phone(name: str, playwright: Any, tmp_path: Path):
    report = tmp_path / f"{name}.html"
    result = CliRunner().invoke(app, [*REPORTS[name], "--html", str(report)])
    assert result.exit_code == 0, result.output
    with browser_page(playwright, tmp_path, PHONE) as page:
        page.goto(report.as_uri())
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the {name} report is {width} px wide on a {PHONE['width']} px phone"
        assert page.locator("table").count() >= 1  # the tables are still there, scrolling inside
