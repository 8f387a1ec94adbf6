"""The Overview's "now": modelled (every card at its best use today) unless agents report what the
GPUs do; then the live states, priced, with the rest modelled, and the label says which (issue 16)."""

from __future__ import annotations

import pytest

from rigshift.decision.compute import FarmDecision
from rigshift.decision.now import LiveGpu, net_now
from rigshift.decision.service import decision_for
from rigshift.econ.formulas import DAYS_PER_MONTH, HOURS_PER_DAY
from rigshift.fleet.demo import demo_fleet


@pytest.fixture(scope="module")
def made() -> FarmDecision:
    return decision_for(demo_fleet(scale=60), use_measurements=False)[0]


def _mining(made: FarmDecision, count_per_class: int, power_w: float | None = None) -> list[LiveGpu]:
    """GPUs reported mining, `count_per_class` of each mining class (at the model's draw: None)."""
    assert made.economics is not None
    live = []
    for c in made.economics.cards:
        if c.card.count and c.mining.available:
            site, _, key = c.card.id.partition("/")
            live += [LiveGpu(site, key, "mining", power_w)] * min(count_per_class, c.card.count)
    return live


def test_without_live_states_now_is_the_model_and_says_so(made: FarmDecision) -> None:
    now = net_now(made)
    assert now.monthly_net_usd == made.summary.monthly_net_usd.now
    assert now.basis == "modelled" and now.live_gpus == 0 and now.modelled_gpus == 60
    assert now.text.startswith("modelled:") and "best use today" in now.text


def test_live_states_that_match_the_model_give_the_models_figure(made: FarmDecision) -> None:
    """Every card reported mining at the model's own draw: the same money as the model."""
    live = _mining(made, 100)
    now = net_now(made, live)
    assert now.basis == "live" and now.live_gpus == 60 and now.modelled_gpus == 0
    assert now.monthly_net_usd == pytest.approx(made.summary.monthly_net_usd.now, abs=0.01)
    assert now.live_by_state == {"mining": 60, "serving": 0, "idle": 0}
    assert now.text.startswith("live:")


def test_an_idle_card_earns_nothing_and_pays_its_measured_draw(made: FarmDecision) -> None:
    assert made.economics is not None
    card = next(c for c in made.economics.cards if c.card.count and c.mining.revenue_usd_day > 0)
    site, _, key = card.card.id.partition("/")
    mining = net_now(made, [LiveGpu(site, key, "mining", 100.0)])
    idle = net_now(made, [LiveGpu(site, key, "idle", 100.0)])
    assert idle.basis == "mixed" and idle.live_gpus == 1 and idle.modelled_gpus == 59
    # Same draw, same site: the difference is the miner's revenue alone.
    assert mining.monthly_net_usd - idle.monthly_net_usd == pytest.approx(
        card.mining.revenue_usd_day * DAYS_PER_MONTH, abs=0.02
    )
    hotter = net_now(made, [LiveGpu(site, key, "idle", 200.0)])
    assert hotter.monthly_net_usd < idle.monthly_net_usd


def test_serving_cards_earn_the_metered_revenue(made: FarmDecision) -> None:
    assert made.economics is not None
    card = next(c for c in made.economics.cards if c.card.count)
    site, _, key = card.card.id.partition("/")
    unpaid = net_now(made, [LiveGpu(site, key, "serving", 150.0)])
    paid = net_now(made, [LiveGpu(site, key, "serving", 150.0)], metered_usd_per_h=0.5)
    assert paid.monthly_net_usd - unpaid.monthly_net_usd == pytest.approx(
        0.5 * HOURS_PER_DAY * DAYS_PER_MONTH
    )
    assert paid.live_by_state["serving"] == 1 and "metered" in paid.text


def test_gpus_the_economics_did_not_price_stay_out(made: FarmDecision) -> None:
    """A live GPU on a rig the fleet file does not list (no price, no class) is not guessed at."""
    now = net_now(made, [LiveGpu("elsewhere", "geforce-rtx-3090", "mining", 300.0)])
    assert now.basis == "modelled" and now.monthly_net_usd == made.summary.monthly_net_usd.now


def test_more_live_gpus_than_the_inventory_lists_replace_at_most_the_class(made: FarmDecision) -> None:
    twice = _mining(made, 100) * 2
    assert net_now(made, twice).live_gpus == 60
