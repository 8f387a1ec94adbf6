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
    # staff: $4,000 / 200 GPUs = $20/GPU-month / 30.4375 = $0.65708/day; net 0.48 − 0.246 − 0.65708
    assert econ.rental.staff_usd_day == pytest.approx(0.65708, abs=0.00001)
    assert econ.rental.net_usd_day == pytest.approx(-0.42308, abs=CENT)


def test_inference_is_bounded_by_demand(econ):
    # one request: 1000 / 1000 tok/s prefill + 250 / 200 tok/s decode = 2.25 s → 38,400 requests/day
    # per card kept busy all day
    (option,) = econ.inference_options
    assert option.capacity_requests_per_day == pytest.approx(38_400)
    # 6 cards could do 230,400/day; the demand is 48,000 (2,000 an hour, under the 6 × 1,600 × 0.7
    # = 6,720 an hour the cards can do at the 70 % ceiling): utilisation 48,000 / 230,400 = 20.833 %
    assert option.utilisation == pytest.approx(0.208333, abs=1e-6)
    # each card serves 8,000 requests × $0.000205 ((1000 × 0.15 + 250 × 0.22) / 1e6) = $1.64/day
    assert econ.inference.revenue_usd_day == pytest.approx(1.64, abs=CENT)
    # (0.20833 × 170 W + 0.79167 × 15 W + 10 W) × 24 / 1000 = 1.375 kWh × $0.10 = $0.1375
    assert econ.inference.power_cost_usd_day == pytest.approx(0.1375, abs=CENT)
    # net = 1.64 − 0.1375 − 0.65708 staff = $0.84542
    assert econ.inference.net_usd_day == pytest.approx(0.84542, abs=CENT)
    # break-even power price, staff included: (1.64 − 0.65708) / 1.375 kWh = $0.71485/kWh
    assert econ.inference.break_even_usd_kwh == pytest.approx(0.71485, abs=0.0001)
    assert econ.best_use == "infer"


def test_break_even_utilisation_includes_staff(econ):
    # c = 24 / 1000 × 1.0 × $0.10 = $0.0024 per W-day; revenue at 100 % = 38,400 × 0.000205 = $7.872
    # target = best other net (mining −0.2413, rent −0.42308, off 0 → 0) + staff 0.65708
    # u* = (0.65708 + (15 + 10) W × 0.0024) / (7.872 − (170 − 15) × 0.0024) = 0.71708 / 7.5
    assert econ.break_even_utilisation == pytest.approx(0.095611, abs=0.0001)


def test_plan(econ):
    plan = solve_plan([econ], [], worked_inputs(), {})
    # 2,000 requests an hour need 2,000 / (1,600 × 0.7) = 1.79 → 2 cards; the other 4 fetch $190 each
    # (mining loses money, so selling beats keeping them).
    assert sorted((a.use, a.count) for a in plan.after) == [("infer", 2), ("sell", 4)]
    (serving,) = [a for a in plan.after if a.use == "infer"]
    assert serving.requests_per_day == pytest.approx(48_000)
    assert serving.tokens_per_day == pytest.approx(48_000 * 1250)
    assert serving.utilisation == pytest.approx(0.625)  # 48,000 / (2 × 38,400)
    # revenue before: 6 × 0.05869 × 30.4375 = $10.72; after: 48,000 × 0.000205 × 30.4375 = $299.505
    assert plan.monthly_revenue_before_usd == pytest.approx(10.72, abs=CENT * 6)
    assert plan.monthly_revenue_after_usd == pytest.approx(299.505, abs=CENT)
    # power after: (2 × (15 + 10) W × 0.0024 + 48,000 × 155 W × 2.25 s / 3.6e6 × $0.10) = $0.585/day
    # → $17.81/month; staff 2 × $20; net = 299.505 − 17.806 − 40 = $241.70
    assert serving.monthly_power_usd == pytest.approx(17.806, abs=CENT)
    assert plan.monthly_net_before_usd == pytest.approx(-44.07, abs=CENT * 6)
    assert plan.monthly_net_after_usd == pytest.approx(241.70, abs=CENT)
    # every price class says what it assumed and what it served
    (service,) = plan.service
    assert service.requests_per_day == pytest.approx(48_000)
    assert service.served_requests_per_day == pytest.approx(48_000)
    convert = next(s for s in plan.steps if s.action == "convert to inference")
    assert convert.capex_usd == pytest.approx(30.0)  # 2 × $15 setup
    # gain: 241.70 − 2 × (−0.24131 × 30.4375) = 241.70 + 14.69 = $256.39/month; payback
    # n = −ln(1 − 0.0094888 × 30 / 256.39) / ln(1.0094888) = 0.1176 months
    assert convert.monthly_gain_usd == pytest.approx(256.39, abs=CENT)
    assert convert.payback_months == pytest.approx(0.1176, abs=0.001)
    sell = next(s for s in plan.steps if s.action == "sell")
    assert sell.capex_usd == pytest.approx(-760.0)  # 4 × $190 raised


def test_more_demand_puts_more_cards_to_work(econ):
    # At 3× the demand (6,000 an hour) 6,000 / 1,120 = 5.4 → all 6 cards serve.
    inputs = worked_inputs()
    more = inputs.model_copy(
        update={"ai": inputs.ai.model_copy(update={"demand": inputs.ai.demand.scaled(3.0)})}
    )
    plan = solve_plan([econ], [], more, {})
    assert [(a.use, a.count) for a in plan.after] == [("infer", 6)]
    assert plan.service[0].served_requests_per_day == pytest.approx(144_000)
