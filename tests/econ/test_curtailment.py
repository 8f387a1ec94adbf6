"""Mining on a price series stops in the hours when power costs more than the coins earn."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigshift.econ.cards import card_economics
from rigshift.econ.prices.power_series import duration_curve

from .fakes import SPECS, TableThroughput, worked_card, worked_inputs


def test_duration_curve_keeps_the_mean_and_sorts_cheapest_first():
    prices = [0.5, -0.01, 0.03, 0.02, 0.04, 0.9, 0.03]
    curve = duration_curve(prices, buckets=3)
    assert [p for p, _ in curve] == sorted(p for p, _ in curve)
    assert sum(share for _, share in curve) == pytest.approx(1.0)
    assert sum(p * share for p, share in curve) == pytest.approx(sum(prices) / len(prices))


def test_mining_runs_only_in_the_hours_that_pay():
    # Worked example card: $0.05869/day of ETC for 3.0 kWh/day. Half the hours at $0.01/kWh (pays:
    # 0.05869 − 0.03 > 0), half at $1.00/kWh (loses): it mines half the time.
    card = worked_card(usd_per_kwh=0.505, price_curve=((0.01, 0.5), (1.0, 0.5)))
    econ = card_economics(card, SPECS["card-a"], worked_inputs(), TableThroughput({}))
    assert econ.mining.revenue_usd_day == pytest.approx(0.5 * 0.05869, abs=1e-4)
    assert econ.mining.power_cost_usd_day == pytest.approx(0.5 * 3.0 * 0.01)
    assert econ.mining.net_usd_day == pytest.approx(0.5 * (0.05869 - 0.03), abs=1e-4)
    assert "running 50% of hours" in econ.mining.detail
    # Renting runs around the clock at the mean price.
    assert econ.rental.power_cost_usd_day == pytest.approx(2.46 * 0.505)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-0.05, 1.0), min_size=1, max_size=30),
    st.floats(0.0, 0.5),
)
def test_dearer_hours_never_make_curtailed_mining_pay_more(prices, extra):
    def net(shift: float) -> float:
        curve = tuple((p + shift, s) for p, s in duration_curve(prices))
        card = worked_card(usd_per_kwh=sum(prices) / len(prices) + shift, price_curve=curve)
        return card_economics(card, SPECS["card-a"], worked_inputs(), TableThroughput({})).mining.net_usd_day

    assert net(extra) <= net(0.0) + 1e-12
    assert net(0.0) >= 0.0  # it can always stop: curtailed mining never loses money
