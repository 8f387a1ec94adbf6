"""Properties that must hold for any prices and any fleet (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigshift.econ import formulas as f
from rigshift.econ.analysis import fleet_totals
from rigshift.econ.cards import economics_for
from rigshift.econ.demand import usd_per_request
from rigshift.econ.inputs import ClassDemand, DemandInputs, ModelClassPrice
from rigshift.econ.plan import solve_plan

from .fakes import SPECS, TableThroughput, spec_of, worked_card, worked_inputs

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
            "max_utilisation": draw(st.floats(0.05, 1)),
            "demand": DemandInputs(
                classes=(
                    ClassDemand(name="8b", requests_per_day=draw(st.floats(0, 2e6))),
                    ClassDemand(name="70b", requests_per_day=draw(st.floats(0, 2e5))),
                ),
                load_profile=tuple(draw(st.lists(st.floats(0.05, 3), min_size=24, max_size=24))),
            ),
            "rent_usd_per_hour": {k: draw(st.floats(0, 1)) for k in keys if draw(st.booleans())},
        }
    )
    cap = inputs.capital.model_copy(
        update={"resale_usd": {k: draw(st.floats(0, 800)) for k in keys}, "buy_usd": {}}
    )
    inputs = inputs.model_copy(update={"ai": ai, "capital": cap})
    return cards, inputs, TableThroughput(draw(fits))


def _economics(cards, inputs, throughput):
    return economics_for(cards, spec_of, inputs, throughput)


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
        assert (
            abs(
                use_total.net_usd_day
                - (use_total.revenue_usd_day - use_total.power_cost_usd_day - use_total.staff_usd_day)
            )
            < 1e-9
        )
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


def _demand_revenue_cap(inputs) -> float:
    """What the whole demand buys a month at the class prices."""
    ai = inputs.ai
    return (
        sum(ai.demand.requests_per_day(p.name) * usd_per_request(p, ai) for p in ai.token_prices)
        * f.DAYS_PER_MONTH
    )


@SETTINGS
@given(scenario())
def test_token_revenue_never_exceeds_what_the_demand_buys(s):
    cards, inputs, throughput = s
    economics = _economics(cards, inputs, throughput)
    plan = solve_plan(economics, [], inputs, {})
    cap = _demand_revenue_cap(inputs)
    tokens = sum(a.monthly_revenue_usd for a in plan.after if a.use == "infer")
    assert tokens <= cap * (1 + 1e-6) + 1e-6
    for service in plan.service:
        assert service.served_requests_per_day <= service.requests_per_day * (1 + 1e-6) + 1e-6
    # Per-card figures too: every card doing its best inference class never sells more than the demand.
    infer = next(u for u in fleet_totals(economics).by_use if u.use == "infer")
    assert infer.revenue_usd_day * f.DAYS_PER_MONTH <= cap * (1 + 1e-6) + 1e-6


@SETTINGS
@given(scenario(), st.floats(min_value=1.0, max_value=20.0))
def test_more_demand_never_lowers_revenue_or_value(s, factor):
    cards, inputs, throughput = s
    more = inputs.model_copy(
        update={"ai": inputs.ai.model_copy(update={"demand": inputs.ai.demand.scaled(factor)})}
    )
    base, bigger = _economics(cards, inputs, throughput), _economics(cards, more, throughput)
    for a, b in zip(base, bigger, strict=True):
        for x, y in zip(a.inference_options, b.inference_options, strict=True):
            assert y.revenue_usd_day >= x.revenue_usd_day - 1e-9
    plan, plan_more = solve_plan(base, [], inputs, {}), solve_plan(bigger, [], more, {})
    # The same plan still fits more demand, so the best plan is worth at least as much.
    assert plan_more.present_value_usd >= plan.present_value_usd - 1e-6 * max(1, abs(plan.present_value_usd))


@SETTINGS
@given(scenario())
def test_break_evens_carry_the_staff_cost(s):
    cards, inputs, throughput = s
    staff = inputs.capital.staff_usd_per_month / inputs.capital.staff_gpus / f.DAYS_PER_MONTH
    for e in _economics(cards, inputs, throughput):
        card = e.card
        for result in (e.rental, *e.inference_options):
            if not result.available:
                continue
            assert result.staff_usd_day == staff
            kwh = f.energy_kwh_per_day(result.power_w + card.host_share_w, card.pue)
            if result.break_even_usd_kwh is not None:
                # at the break-even price, revenue pays power AND staff
                assert abs(result.break_even_usd_kwh * kwh - (result.revenue_usd_day - staff)) < 1e-9
        u = e.break_even_utilisation
        if u is not None and u > 0:
            price = inputs.ai.price(e.inference.model_class)
            revenue = e.inference.capacity_requests_per_day * u * usd_per_request(price, inputs.ai)
            watts = f.duty_watts(card.busy_w, inputs.power.idle_w_per_gpu, u)
            net = (
                revenue - f.power_cost_per_day(watts + card.host_share_w, card.usd_per_kwh, card.pue) - staff
            )
            best_other = max([0.0] + [r.net_usd_day for r in (e.mining, e.rental) if r.available])
            assert abs(net - best_other) < 1e-6 * max(1.0, revenue)
