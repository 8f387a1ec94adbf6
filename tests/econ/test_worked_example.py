"""docs/economics.md's worked example, checked against numbers computed by hand (within a cent).

The expected values are literals worked out on paper from the example's inputs; the arithmetic is
in the comments so a reader can redo it.
"""

from __future__ import annotations

import pytest

from rigshift.econ.cards import card_economics
from rigshift.econ.plan import solve_plan

from .fakes import SPECS, WORKED_THROUGHPUT, TableThroughput, worked_card, worked_inputs

CENT = 0.005  # "within a cent": rounding to cents gives the same figure


@pytest.fixture
def econ():
    return card_economics(
        worked_card(), SPECS["card-a"], worked_inputs(), TableThroughput(dict(WORKED_THROUGHPUT))
    )


def test_mining(econ):
    # coins/day = 49e6 / 1.8e14 × 2.048 × (86400 / 13) × (1 − 0.01) = 0.00366825 ETC; × $16 = $0.05869
    assert econ.mining.revenue_usd_day == pytest.approx(0.05869, abs=CENT)
    # power: (115 W + 10 W host share) × 24 h / 1000 × PUE 1.0 = 3.0 kWh × $0.10 = $0.30
    assert econ.mining.power_cost_usd_day == pytest.approx(0.30, abs=CENT)
    assert econ.mining.net_usd_day == pytest.approx(-0.24131, abs=CENT)
    # break-even power price: $0.05869 / 3.0 kWh = $0.01956/kWh
    assert econ.mining.break_even_usd_kwh == pytest.approx(0.01956, abs=0.0001)


def test_rental(econ):
    # $0.05/h × 24 h × 50 % occupancy × (1 − 20 % fee) = $0.48
    assert econ.rental.revenue_usd_day == pytest.approx(0.48, abs=CENT)
    # (0.5 × 170 W + 0.5 × 15 W + 10 W) × 24 / 1000 = 2.46 kWh × $0.10 = $0.246
    assert econ.rental.power_cost_usd_day == pytest.approx(0.246, abs=CENT)
    assert econ.rental.net_usd_day == pytest.approx(0.234, abs=CENT)


def test_inference(econ):
    # one request: 1000 / 1000 tok/s prefill + 250 / 200 tok/s decode = 2.25 s → 0.4444 req/s busy
    # $/request = (1000 × 0.15 + 250 × 0.22) / 1e6 = $0.000205
    # revenue = 0.4444 × 0.000205 × 86400 × 30 % = $2.3616
    assert econ.inference.revenue_usd_day == pytest.approx(2.3616, abs=CENT)
    # (0.3 × 170 W + 0.7 × 15 W + 10 W) × 24 / 1000 = 1.716 kWh × $0.10 = $0.1716
    assert econ.inference.power_cost_usd_day == pytest.approx(0.1716, abs=CENT)
    assert econ.inference.net_usd_day == pytest.approx(2.19, abs=CENT)
    # break-even power price: $2.3616 / 1.716 kWh = $1.3762/kWh
    assert econ.inference.break_even_usd_kwh == pytest.approx(1.3762, abs=0.0001)
    assert econ.best_use == "infer"


def test_break_even_utilisation(econ):
    # c = 24 / 1000 × 1.0 × $0.10 = $0.0024 per W-day; revenue at 100 % = 2.3616 / 0.3 = $7.872
    # u* = (best other net 0.234 + (15 + 10) W × 0.0024) / (7.872 − (170 − 15) × 0.0024) = 0.294 / 7.5
    assert econ.break_even_utilisation == pytest.approx(0.0392, abs=0.0001)


def test_plan(econ):
    plan = solve_plan([econ], [], worked_inputs(), {})
    # Keeping a card to serve tokens is worth A × (2.19 × 30.4375 − 20) − 15 = 21.373 × 46.658 − 15 ≈ $982
    # over 24 months at 12 %/yr, far more than its $190 resale: all 6 convert.
    assert [(a.use, a.count) for a in plan.after] == [("infer", 6)]
    # revenue before: 6 × 0.05869 × 30.4375 = $10.72; after: 6 × 2.3616 × 30.4375 = $431.29
    assert plan.monthly_revenue_before_usd == pytest.approx(10.72, abs=CENT * 6)
    assert plan.monthly_revenue_after_usd == pytest.approx(431.29, abs=CENT * 6)
    # net before: 6 × −0.24131 × 30.4375 = −$44.07; after: 6 × (2.19 × 30.4375 − $20 staff) = $279.95
    assert plan.monthly_net_before_usd == pytest.approx(-44.07, abs=CENT * 6)
    assert plan.monthly_net_after_usd == pytest.approx(279.95, abs=CENT * 6)
    (step,) = plan.steps
    assert step.action == "convert to inference"
    assert step.capex_usd == pytest.approx(90.0)  # 6 × $15 setup
    # gain: 279.95 − (−44.07) = $324.02/month; payback: r = 1.12^(1/12) − 1 = 0.0094888,
    # n = −ln(1 − r × 90 / 324.02) / ln(1 + r) = 0.2794 months
    assert step.monthly_gain_usd == pytest.approx(324.02, abs=CENT * 6)
    assert step.payback_months == pytest.approx(0.2794, abs=0.001)


def test_plan_without_new_money_sells_one_card_to_fund_the_rest(econ):
    # With a $0 budget the $90 of setup must come from sales: one $190 card goes, five convert.
    plan = solve_plan([econ], [], worked_inputs(budget=0.0), {})
    assert sorted((a.use, a.count) for a in plan.after) == [("infer", 5), ("sell", 1)]
    assert plan.net_capex_usd <= 0.0
    assert plan.sale_proceeds_usd == pytest.approx(190.0)
