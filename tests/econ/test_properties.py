"""Properties that must hold for any prices and any fleet (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigshift.econ.analysis import fleet_totals
from rigshift.econ.cards import card_economics
from rigshift.econ.inputs import ModelClassPrice
from rigshift.econ.plan import solve_plan

from .fakes import SPECS, TableThroughput, worked_card, worked_inputs

KEYS = sorted(SPECS)
CLASSES = (
    ModelClassPrice(name="8b", model="m8", usd_per_m_input=0.15, usd_per_m_output=0.22),
    ModelClassPrice(name="70b", model="m70", usd_per_m_input=0.13, usd_per_m_output=0.40),
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

prices = st.floats(min_value=0.0, max_value=0.5, allow_nan=False)
fits = st.dictionaries(
    st.tuples(st.sampled_from(KEYS), st.sampled_from(["8b", "70b"])),
    st.tuples(st.floats(1, 2000), st.floats(10, 20000), st.sampled_from([1, 2, 4])),
    max_size=6,
)


@st.composite
def scenario(draw):
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True))
    cards = [
        worked_card(
            id=f"site/{k}",
            gpu_key=k,
            gpu_name=k,
            count=draw(st.integers(1, 12)),
            busy_w=SPECS[k].tdp_w,
            host_share_w=draw(st.floats(0, 60)),
            usd_per_kwh=draw(prices),
            max_group=draw(st.sampled_from([1, 2, 4])),
        )
        for k in keys
    ]
    inputs = worked_inputs(budget=draw(st.floats(0, 2000)))
    ai = inputs.ai.model_copy(
        update={
            "token_prices": CLASSES,
            "utilisation": draw(st.floats(0.01, 1)),
            "rent_usd_per_hour": {k: draw(st.floats(0, 1)) for k in keys if draw(st.booleans())},
        }
    )
    cap = inputs.capital.model_copy(
        update={"resale_usd": {k: draw(st.floats(0, 800)) for k in keys}, "buy_usd": {}}
    )
    inputs = inputs.model_copy(update={"ai": ai, "capital": cap})
    return cards, inputs, TableThroughput(draw(fits))


def _economics(cards, inputs, throughput):
    return [card_economics(c, SPECS[c.gpu_key], inputs, throughput) for c in cards]


@SETTINGS
@given(scenario(), st.floats(min_value=0.0, max_value=0.5))
def test_dearer_power_never_pays_more(s, extra):
    cards, inputs, throughput = s
    cheap = _economics(cards, inputs, throughput)
    dear = _economics(
        [c.model_copy(update={"usd_per_kwh": c.usd_per_kwh + extra}) for c in cards], inputs, throughput
    )
    for a, b in zip(cheap, dear, strict=True):
        for use in ("mine", "rent", "infer"):
            ra, rb = a.use(use), b.use(use)
            assert rb.net_usd_day <= ra.net_usd_day + 1e-12, use
    plan_cheap = solve_plan(cheap, [], inputs, {})
    plan_dear = solve_plan(dear, [], inputs, {})
    assert plan_dear.present_value_usd <= plan_cheap.present_value_usd + 1e-6 * max(
        1, abs(plan_cheap.present_value_usd)
    )


@SETTINGS
@given(scenario())
def test_a_card_that_cannot_serve_a_model_never_earns_from_it(s):
    cards, inputs, throughput = s
    economics = _economics(cards, inputs, throughput)
    for e in economics:
        for option in e.inference_options:
            if (e.card.gpu_key, option.model_class) not in throughput.table:
                assert not option.available
                assert option.revenue_usd_day == 0.0
        if e.inference.available:
            assert (e.card.gpu_key, e.inference.model_class) in throughput.table
        else:
            assert e.inference.revenue_usd_day == 0.0
            assert e.best_use != "infer"
    plan = solve_plan(economics, [], inputs, {})
    for a in plan.after:
        if a.use == "infer":
            assert any(k == a.gpu_key for k, _ in throughput.table)


@SETTINGS
@given(scenario())
def test_totals_equal_the_sum_of_their_parts(s):
    cards, inputs, throughput = s
    economics = _economics(cards, inputs, throughput)
    totals = fleet_totals(economics)
    assert totals.gpus == sum(c.count for c in cards)
    for use_total in totals.by_use:
        parts = [(e.card.count, e.use(use_total.use)) for e in economics]
        able = [(n, r) for n, r in parts if r.available]
        assert use_total.gpus == sum(n for n, _ in able)
        assert abs(use_total.net_usd_day - sum(n * r.net_usd_day for n, r in able)) < 1e-9
        assert abs(use_total.net_usd_day - (use_total.revenue_usd_day - use_total.power_cost_usd_day)) < 1e-9
    plan = solve_plan(economics, [], inputs, {})
    for e in economics:
        assert sum(a.count for a in plan.after if a.card_id == e.card.id) == e.card.count
    assert abs(plan.monthly_net_after_usd - sum(a.monthly_net_usd for a in plan.after)) < 1e-6
    assert abs(plan.monthly_revenue_before_usd - sum(a.monthly_revenue_usd for a in plan.before)) < 1e-6
    # The steps add up to the whole change: gains to after − before, capex to net capex.
    gain = sum(step.monthly_gain_usd for step in plan.steps)
    assert abs(gain - (plan.monthly_net_after_usd - plan.monthly_net_before_usd)) < 1e-6
    assert abs(sum(step.capex_usd for step in plan.steps) - plan.net_capex_usd) < 1e-6
    assert plan.net_capex_usd <= inputs.constraints.capex_budget_usd + 1e-6
