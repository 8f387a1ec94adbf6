"""The energy loop's recent decisions per site (the console's Energy charts)."""

from __future__ import annotations

from rigshift.energy.history import DecisionHistory


def decision(price_usd_mwh: float, mining: int) -> tuple[float, float, tuple[int, int, int, int]]:
    return price_usd_mwh / 1000, mining * 0.2, (1, 0, mining, 10 - mining)


def test_one_point_per_step_the_latest_wins_and_old_ones_go() -> None:
    history = DecisionHistory(step_s=300, keep_s=900)  # three points
    history.record("tx", 1000.0, *decision(20.0, 9))
    history.record("tx", 1100.0, *decision(30.0, 8))  # same step (900-1200): replaces
    history.record("tx", 1250.0, *decision(40.0, 7))
    history.record("tx", 950.0, *decision(99.0, 0))  # late, for a step already past: ignored
    series = history.series("tx")
    assert series["at"] == [900, 1200] and series["price_usd_mwh"] == [30.0, 40.0]
    assert series["mining"] == [8, 7] and series["off"] == [2, 3] and series["interactive"] == [1, 1]
    for t in (1500.0, 1800.0, 2100.0):
        history.record("tx", t, *decision(50.0, 5))
    assert history.series("tx")["at"] == [1500, 1800, 2100]
    assert history.series("elsewhere")["at"] == []
