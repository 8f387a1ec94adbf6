"""Renderers: the HTML page is self-contained and has its charts; the terminal summary fits a screen."""

from __future__ import annotations

import re

from assess_fakes import fake_tools, fleet, gpu, mixed_fleet, rig
from rich.console import Console

from rigshift.assess import assess_fleet
from rigshift.assess.render_html import MAX_RIG_ROWS, render_html
from rigshift.assess.render_terminal import print_assessment


def _text(a, details: bool = False, width: int = 120) -> str:
    console = Console(record=True, width=width)
    print_assessment(a, console, details=details)
    return console.export_text()


def test_html_is_self_contained_and_has_every_chart():
    page = render_html(assess_fleet(mixed_fleet(), tools=fake_tools()))
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # Nothing is fetched: no external src/href, no script tags, no CSS imports.
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<script" not in page.lower() and "@import" not in page
    assert "http://" not in page and "https://" not in page
    for chart in ("chart-tiers", "chart-vram", "chart-reasons"):
        assert re.search(rf"<svg id='{chart}'[^>]*>.*?<rect", page, re.DOTALL), chart
    assert "<table id='table-rigs'>" in page and "r3060" in page


def test_html_escapes_names_from_the_fleet():
    hostile = fleet(rig("<script>alert(1)</script>", [gpu("rtx-3060-12g")]))
    page = render_html(assess_fleet(hostile, tools=fake_tools()))
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_html_caps_the_rig_table():
    many = fleet(*[rig(f"r{i}", [gpu("rtx-3060-12g")]) for i in range(MAX_RIG_ROWS + 5)])
    page = render_html(assess_fleet(many, tools=fake_tools()))
    rig_table = page[page.index("<table id='table-rigs'>") :]
    assert rig_table.count("<tr><td>") == MAX_RIG_ROWS
    assert f"first {MAX_RIG_ROWS:,} of {MAX_RIG_ROWS + 5:,} rigs" in page


def test_terminal_summary_does_not_grow_with_the_fleet():
    small = assess_fleet(mixed_fleet(), tools=fake_tools())
    big_fleet = mixed_fleet()
    big_fleet.rigs = [
        r.model_copy(update={"name": f"{r.name}-{i}"}) for i in range(40) for r in big_fleet.rigs
    ]
    big = assess_fleet(big_fleet, tools=fake_tools())
    small_lines = _text(small).count("\n")
    assert _text(big).count("\n") == small_lines
    assert small_lines < 100
    text = _text(big)
    assert big.summary.headline in text.replace("\n", " ") or big.summary.headline[:40] in text
    assert "What holds GPUs back" in text and "Actions that unlock the most" in text


def test_details_add_one_row_per_gpu():
    a = assess_fleet(mixed_fleet(), tools=fake_tools())
    plain, detailed = _text(a), _text(a, details=True, width=200)
    assert "Per GPU" not in plain and "Per GPU" in detailed
    assert sum(1 for line in detailed.splitlines() if "rx-580-8g".upper() in line) >= len(
        [g for g in a.gpus if g.gpu_model == "rx-580-8g"]
    )
