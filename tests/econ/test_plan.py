"""The conversion plan: consolidation, the capex budget, site power, cards with no resale price."""

from __future__ import annotations

import pytest

from rigshift.econ.cards import card_economics
from rigshift.econ.plan import solve_plan

from .fakes import SPECS, TableThroughput, worked_card, worked_inputs

SMALL = dict(id="site/card-small", gpu_key="card-small", gpu_name="Small 8GB", count=12, busy_w=185.0)
BIG_FOR_SALE = dict(
    id="site/card-big+buy",
    gpu_key="card-big",
    gpu_name="Big 24GB",
    count=0,
    busy_w=350.0,
    host_share_w=7.5,
    max_group=8,
)
# The small card serves the 8B class only on 2 cards and slowly; the big one alone and fast.
RATES = {("card-small", "8b"): (60.0, 150.0, 2), ("card-big", "8b"): (500.0, 2500.0, 1)}


def _setup(budget: float, **capital):
    inputs = worked_inputs(budget=budget, **capital)
    inputs = inputs.model_copy(
        update={
            "capital": inputs.capital.model_copy(
                update={
                    "resale_usd": {"card-small": 45.0, **capital.get("resale_usd", {})},
                    "buy_usd": {"card-big": 750.0},
                }
            )
        }
    )
    throughput = TableThroughput(dict(RATES))
    small = card_economics(worked_card(**SMALL), SPECS["card-small"], inputs, throughput)
    big = card_economics(worked_card(**BIG_FOR_SALE), SPECS["card-big"], inputs, throughput)
    return small, big, inputs


def test_consolidates_small_cards_into_big_ones_within_budget():
    small, big, inputs = _setup(budget=1000.0)
    plan = solve_plan([small], [big], inputs, {})
    sold = sum(a.count for a in plan.after if a.use == "sell")
    bought = sum(a.count for a in plan.after if a.bought)
    assert sold > 0 and bought > 0
    (step,) = [s for s in plan.steps if s.action == "consolidate"]
    assert "sell" in step.description and "buy" in step.description and "Big 24GB" in step.description
    # Bought cards need slots: those freed by sales, or new hosts.
    assert bought <= sold + 8 * sum(plan.hosts_bought.values())
    assert plan.net_capex_usd <= 1000.0 + 1e-6
    assert plan.monthly_net_after_usd > plan.monthly_net_before_usd
    assert step.payback_months is not None


def test_more_budget_never_makes_the_plan_worse():
    small, big, inputs = _setup(budget=0.0)
    poor = solve_plan([small], [big], inputs, {})
    small, big, inputs = _setup(budget=5000.0)
    rich = solve_plan([small], [big], inputs, {})
    assert rich.present_value_usd >= poor.present_value_usd


def test_site_power_budget_is_respected():
    small, big, inputs = _setup(budget=100000.0)
    unlimited = solve_plan([small], [big], inputs, {})
    limit = max(0.5, unlimited.power_kw_after.get("site", 0.0) / 2)
    capped = solve_plan([small], [big], inputs, {"site": limit})
    assert capped.power_kw_after.get("site", 0.0) <= limit + 1e-9
    assert capped.present_value_usd <= unlimited.present_value_usd


def test_cards_with_no_resale_price_are_switched_off_not_sold():
    inputs = worked_inputs(budget=0.0)
    inputs = inputs.model_copy(update={"capital": inputs.capital.model_copy(update={"resale_usd": {}})})
    # No fit for inference, no rent, mining loses money: the card has nothing to do.
    loser = card_economics(worked_card(**SMALL), SPECS["card-small"], inputs, TableThroughput({}))
    plan = solve_plan([loser], [], inputs, {})
    assert [(a.use, a.count) for a in plan.after] == [("off", 12)]
    assert plan.sale_proceeds_usd == 0.0


def test_baseline_is_mining():
    small, _, inputs = _setup(budget=0.0)
    plan = solve_plan([small], [], inputs, {})
    assert (
        [(a.use, a.count) for a in plan.before] == [("mine", 12)] if small.mining.available else [("off", 12)]
    )
    assert plan.monthly_revenue_before_usd == pytest.approx(12 * small.mining.revenue_usd_day * 365.25 / 12)
