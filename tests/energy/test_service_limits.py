"""The run-time loop applies the 4CP peak-risk rule from the prices it has seen, and the hard limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from energy.test_policy import group  # tests/energy/test_policy.py (tests/ is on the path)
from rigshift.energy.events import EnergyEvent
from rigshift.energy.farm import SiteFarm
from rigshift.energy.policy import InteractiveNeed, peak_risk
from rigshift.energy.prices import read_price_series
from rigshift.energy.service import EnergyService, SeriesPrices

JULY = Path(__file__).parent / "data" / "ercot_hb_north_dam_2022_july_week.csv"


class NoEvents:
    def current(self, now: float) -> list[EnergyEvent]:
        return []

    def record(self, event: EnergyEvent) -> None:
        raise AssertionError("no event to record")


def test_the_loop_stays_off_at_4cp_peak_risk_but_keeps_the_slo() -> None:
    series = read_price_series(JULY)
    prices = SeriesPrices({"s": series})
    risk = peak_risk(series.starts, series.usd_per_kwh)
    assert risk.any() and not risk.all()
    farm = SiteFarm(
        "s", (group("geforce-rtx-3090", 4, True, 300.0, 0.0), group("geforce-gtx-1080-ti", 6, False, 0.0, 1.0)),
        1.1, None,
    )  # fmt: skip
    loop = EnergyService(
        {"s": farm}, prices, NoEvents(), demand=lambda site: [InteractiveNeed("chat", 1, 500.0, 0.5)],
        step_s=series.step_s, peak_risk=prices.peak_risk,
    )  # fmt: skip
    at_risk = int(np.argmax(risk))
    calm = int(np.argmin(risk[1:])) + 1
    for i in (at_risk, calm):
        assert prices.peak_risk("s", float(series.starts[i])) == risk[i]
    risky = loop.tick(float(series.starts[at_risk]))["s"]
    assert risky.mining_cards == 0 and risky.replicas["chat"] == 1
    plain = loop.tick(float(series.starts[calm]))["s"]
    assert plain.mining_cards == 6  # $1/h coins pay at any of this week's prices but at peak risk
