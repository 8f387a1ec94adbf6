"""bench/console_paint.py's summary: a load without a first contentful paint is counted, not a
TypeError that stops the bench (it was)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "console_paint.py"


def _bench():
    spec = importlib.util.spec_from_file_location("console_paint", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_loads_without_a_paint_are_counted_not_summed():
    summary = _bench().summary
    line = summary([120.0, None, 80.0, 100.0])
    assert "median    100 ms" in line and "max    120 ms" in line
    assert "1 of 4 loads reported none" in line
    assert summary([None, None]) == "none reported   (2 of 2 loads reported none)"
    assert "reported none" not in summary([5.0])
