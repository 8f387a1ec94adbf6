"""The energy policy's promises, as properties over random sites, prices, demand and backlogs."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rigshift.catalog.gpus import gpu_catalog
from rigshift.energy.policy import (
    BatchJob,
    CardGroup,
    InteractiveNeed,
    SiteInterval,
    cap_levels,
    check_feasible,
    decide,
    must_run_tokens,
    per_gpu,
)
from rigshift.errors import InputError

CARDS = ["geforce-rtx-3060-12gb", "geforce-rtx-3090", "radeon-rx-6700-xt", "geforce-gtx-1080-ti"]
STEP = 900
HOUR = 3600


def group(key: str, count: int, converted: bool, tps: float, mining_usd_h: float) -> CardGroup:
    spec = gpu_catalog().get(key)
    return CardGroup(
        id=f"site/{key}/{converted}",
        gpu=key,
        count=count,
        converted=converted,
        tdp_w=spec.tdp_w,
        idle_w=12.0,
        host_w=8.0,
        levels=cap_levels(spec, tps) if converted else (),
        mining_usd_per_hour=mining_usd_h,
        mining_w=spec.tdp_w * 0.6,
    )


groups_st = st.lists(
    st.builds(
        group,
        st.sampled_from(CARDS),
        st.integers(1, 40),
        st.booleans(),
        st.floats(20, 400),
        st.floats(0, 0.05),
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda g: g.id,
)
price_st = st.one_of(st.floats(-0.1, 0.2), st.floats(0.2, 9.0))  # $/kWh: negative hours to Uri


def _needs(groups: list[CardGroup], data: st.DataObject) -> list[InteractiveNeed]:
    serving = sum(g.count for g in groups if g.converted)
    needs = []
    left = serving
    for k in range(data.draw(st.integers(0, 2))):
        minimum = data.draw(st.integers(0, max(0, left // 2)))
        left -= minimum
        needs.append(
            InteractiveNeed(
                f"dep{k}", minimum, data.draw(st.floats(0, 20000)), data.draw(st.floats(0.01, 1.0))
            )
        )
    return needs


def _jobs(data: st.DataObject, now: float) -> list[BatchJob]:
    return [
        BatchJob(
            f"b{k}",
            data.draw(st.floats(1e3, 1e9)),
            now + data.draw(st.floats(0, 48 * HOUR)),
            data.draw(st.floats(0.01, 0.5)),
        )
        for k in range(data.draw(st.integers(0, 3)))
    ]


def _margin_of(g: CardGroup, cap_w: float, usd_per_m: float, price: float) -> float:
    level = next(lv for lv in g.levels if lv.cap_w == cap_w)
    return level.tokens_per_s * 3600 * usd_per_m / 1e6 - (level.draw_w + g.host_w) / 1000 * price


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups=groups_st, price=price_st, pue=st.floats(1.0, 1.4), data=st.data())
def test_slo_minimums_and_site_cap_hold_outside_events(groups, price, pue, data) -> None:
    needs = _needs(groups, data)
    cap = data.draw(st.one_of(st.none(), st.floats(0.5, 60)))
    try:
        check_feasible(groups, needs, pue, cap)
    except InputError:
        assume(False)
    interval = SiteInterval("site", 0.0, STEP, price, pue, cap, None, ())
    decision = decide(groups, interval, needs, _jobs(data, 0.0))
    for need in needs:
        assert decision.replicas[need.deployment] >= need.min_replicas
    if cap is not None:
        assert decision.power_kw <= cap + 1e-6
    for gd, g in zip(decision.groups, groups, strict=True):
        assert gd.interactive + gd.batch + gd.mining + gd.off == g.count
        assert gd.interactive == sum(n for _, n in gd.replicas)


@settings(max_examples=300, deadline=None)
@given(groups=groups_st, price=price_st, data=st.data())
def test_batch_runs_at_a_loss_only_when_its_deadline_cannot_wait(groups, price, data) -> None:
    jobs = _jobs(data, 0.0)
    needs = _needs(groups, data)
    # With or without a day-ahead curve: a loss is only ever taken for work that is due now.
    ahead = tuple(data.draw(st.lists(price_st, max_size=96)))
    decision = decide(groups, SiteInterval("site", 0.0, STEP, price, day_ahead=ahead), needs, jobs)
    cheapest = min((j.usd_per_m_tokens for j in jobs), default=0.0)
    for gd, g in zip(decision.groups, groups, strict=True):
        if gd.batch and _margin_of(g, gd.batch_cap_w, cheapest, price) < 0:
            assert decision.batch_due_tokens > 0, "batch at a loss although every deadline allowed waiting"
        # Spare slots of this group's serving cards: a token there costs its draw above idle.
        if decision.batch_spare_tokens_per_s > 0 and gd.interactive:
            level = next(lv for lv in g.levels if lv.cap_w == gd.interactive_cap_w)
            cost = (level.draw_w - g.idle_w) / 1000 * price / (level.tokens_per_s * 3600)
            if cheapest / 1e6 < cost:
                assert decision.batch_due_tokens > 0, (
                    "spare slots at a loss although deadlines allowed waiting"
                )


@settings(max_examples=200, deadline=None)
@given(groups=groups_st, price=price_st, data=st.data())
def test_spare_slots_never_exceed_the_replicas_headroom_and_stop_in_an_event(groups, price, data) -> None:
    needs = _needs(groups, data)
    jobs = _jobs(data, 0.0)
    decision = decide(groups, SiteInterval("site", 0.0, STEP, price), needs, jobs)
    headroom = sum(
        max(0.0, decision.interactive_tokens_per_s[n.deployment] - n.demand_tokens_per_s) for n in needs
    )
    assert 0.0 <= decision.batch_spare_tokens_per_s <= headroom + 1e-6
    assert decision.batch_spare_tokens_per_s * STEP <= sum(j.tokens_left for j in jobs) + 1e-6
    during = decide(groups, SiteInterval("site", 0.0, STEP, price, event_kw=1e9), needs, jobs)
    assert during.batch_spare_tokens_per_s == 0.0


def test_batch_fills_the_spare_slots_of_replicas_that_serve_when_no_card_is_free() -> None:
    """Every card serves the deployment (its SLO minimum): batch still runs, on the replicas'
    headroom, while power is cheap; it waits at a spike when its deadline allows; and an event
    stops it."""
    cards = group("geforce-rtx-3060-12gb", 2, True, 40.0, 0.0)
    need = InteractiveNeed("chat", 2, 10.0, 0.5)
    jobs = [BatchJob("b", 1e6, 48 * HOUR, 0.2)]
    cheap = decide([cards], SiteInterval("site", 0.0, STEP, 0.03), [need], jobs)
    assert cheap.interactive_cards == 2 and cheap.batch_cards == 0
    assert cheap.batch_on
    assert cheap.batch_spare_tokens_per_s == pytest.approx(cheap.interactive_tokens_per_s["chat"] - 10.0)
    spike = decide([cards], SiteInterval("site", 0.0, STEP, 9.0), [need], jobs)
    assert not spike.batch_on and spike.batch_due_tokens == 0
    event = decide([cards], SiteInterval("site", 0.0, STEP, 0.03, event_kw=10.0), [need], jobs)
    assert not event.batch_on


@settings(max_examples=200, deadline=None)
@given(groups=groups_st, price=st.floats(0.5, 9.0), data=st.data())
def test_a_far_deadline_with_little_work_waits_out_a_price_spike(groups, price, data) -> None:
    assume(any(g.converted for g in groups))
    # Small work, two days to go: plenty of later intervals can take it, so nothing is due now.
    jobs = [BatchJob("b", 1000.0, 48 * HOUR, data.draw(st.floats(0.001, 0.01)))]
    decision = decide(groups, SiteInterval("site", 0.0, STEP, price), (), jobs)
    assert decision.batch_due_tokens == 0
    for gd, g in zip(decision.groups, groups, strict=True):
        if gd.batch:
            assert (
                _margin_of(g, gd.batch_cap_w, 0.001, price) >= 0
                or _margin_of(g, gd.batch_cap_w, jobs[0].usd_per_m_tokens, price) > 0
            )


def test_must_run_is_what_later_intervals_cannot_take() -> None:
    jobs = [BatchJob("a", 100.0, 4 * HOUR + STEP, 0.1), BatchJob("b", 100.0, 12 * HOUR + STEP, 0.1)]
    # 3 h before job a's deadline minus the 1 h guard: 12 quarter hours of 5 tokens = 60 < 100.
    assert must_run_tokens(jobs, STEP, STEP, 5.0, []) == pytest.approx(40.0)
    # The day-ahead curve says the next 4 quarters are dearer than now: 8 quarters of room left.
    assert must_run_tokens(jobs, STEP, STEP, 5.0, [True] * 4) == pytest.approx(60.0)
    assert must_run_tokens(jobs, STEP, STEP, 50.0, []) == 0.0


def test_a_demand_response_event_goes_below_minimums_only_when_it_must() -> None:
    g = group("geforce-rtx-3060-12gb", 20, True, 200.0, 0.0)
    need = InteractiveNeed("chat", 10, 1000.0, 0.22)
    free = decide(
        [g], SiteInterval("s", 0, STEP, 0.03, 1.0, None, None), [need], [BatchJob("b", 1e9, 86400 * 2, 0.11)]
    )
    assert free.batch_cards > 0
    mild = decide(
        [g],
        SiteInterval("s", 0, STEP, 0.03, 1.0, None, free.power_kw - 1.0),
        [need],
        [BatchJob("b", 1e9, 86400 * 2, 0.11)],
    )
    assert mild.power_kw <= free.power_kw - 1.0 + 1e-9 and mild.replicas["chat"] >= 10
    deep = decide([g], SiteInterval("s", 0, STEP, 0.03, 1.0, None, 0.8), [need], [])
    assert deep.power_kw <= 0.8 + 1e-9 and deep.replicas["chat"] < 10 and deep.in_event
    assert any("below their minimum" in n for n in deep.notes)


def test_an_infeasible_site_cap_is_refused() -> None:
    g = group("geforce-rtx-3090", 10, True, 300.0, 0.0)
    with pytest.raises(InputError, match="cap"):
        check_feasible([g], [InteractiveNeed("chat", 10, 0.0, 0.2)], 1.0, 1.0)


def test_dear_power_caps_cards_cheap_power_runs_them_and_mining_follows_its_margin() -> None:
    ai = group("geforce-rtx-3090", 4, True, 300.0, 0.0)
    miner = group("geforce-gtx-1080-ti", 6, False, 0.0, 0.02)
    jobs = [BatchJob("b", 1e6, 2 * 86400, 0.05)]
    cheap = decide([ai, miner], SiteInterval("s", 0, STEP, 0.02), [], jobs)
    dear = decide([ai, miner], SiteInterval("s", 0, STEP, 2.0), [], jobs)
    negative = decide([ai, miner], SiteInterval("s", 0, STEP, -0.05), [], jobs)
    assert cheap.mining_cards == 6 and dear.mining_cards == 0
    assert cheap.batch_cards == 4 and dear.batch_cards == 0
    assert negative.groups[0].batch_cap_w == max(lv.cap_w for lv in ai.levels)  # paid to draw: full power
    assert cheap.groups[0].batch_cap_w < ai.tdp_w  # the estimator: decode loses little under a cap


def test_per_gpu_keeps_roles_where_it_can() -> None:
    g = group("geforce-rtx-3060-12gb", 4, True, 200.0, 0.0)
    decision = decide([g], SiteInterval("s", 0, STEP, 0.03), [InteractiveNeed("chat", 2, 0.0, 0.22)], [])
    names = ["r/0", "r/1", "r/2", "r/3"]
    gpus = per_gpu(decision, {g.id: names}, current={"r/3": "interactive", "r/2": "interactive"})
    roles = {d.gpu: d.role for d in gpus}
    assert roles["r/3"] == roles["r/2"] == "interactive"
    assert sum(1 for d in gpus if d.role == "interactive") == 2
    assert all(
        d.power_cap_w is not None and not math.isnan(d.power_cap_w) for d in gpus if d.role == "interactive"
    )


def test_run_time_replicas_never_exceed_those_planned() -> None:
    cards = group("geforce-rtx-3060-12gb", 8, True, 40.0, 0.0)
    need = InteractiveNeed("chat", 1, 1e6, 0.5, max_replicas=3)  # demand far above 3 replicas
    decision = decide(
        [cards], SiteInterval("site", 0.0, STEP, 0.03), [need], [BatchJob("b", 1e9, HOUR * 48, 0.2)]
    )
    assert decision.replicas["chat"] == 3
    assert decision.batch_spare_tokens_per_s == 0  # saturated replicas have no spare slots
    assert (
        decide(
            [cards], SiteInterval("site", 0.0, STEP, 0.03), [InteractiveNeed("chat", 1, 1e6, 0.5)]
        ).replicas["chat"]
        == 8
    )


def test_at_run_time_batch_cards_are_the_planned_replicas_interactive_leaves_free() -> None:
    """Eight cards, three planned replicas, one needed for the demand: batch gets the other two
    replicas' cards, never the five cards without a replica (they would run no line)."""
    cards = group("geforce-rtx-3060-12gb", 8, True, 40.0, 0.0)
    need = InteractiveNeed("chat", 1, 10.0, 0.5, max_replicas=3)
    jobs = [BatchJob("b", 1e12, 48 * HOUR, 0.2)]
    run_time = decide([cards], SiteInterval("site", 0.0, STEP, 0.03), [need], jobs, run_time=True)
    assert (run_time.replicas["chat"], run_time.batch_cards, run_time.off_cards) == (1, 2, 5)
    none_planned = decide([cards], SiteInterval("site", 0.0, STEP, 0.03), [], jobs, run_time=True)
    assert (none_planned.batch_cards, none_planned.off_cards) == (0, 8)
    simulator = decide([cards], SiteInterval("site", 0.0, STEP, 0.03), [need], jobs)
    assert simulator.batch_cards == 7  # no plan given: every free card


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups=groups_st, price=price_st, data=st.data())
def test_with_hard_limits_nothing_but_the_slo_minimum_runs_at_a_loss(groups, price, data) -> None:
    needs = _needs(groups, data)
    jobs = _jobs(data, 0.0)
    interval = SiteInterval("s", 0, STEP, price, no_loss=True)
    decision = decide(groups, interval, needs, jobs)
    if jobs:
        usd = min(j.usd_per_m_tokens for j in jobs)
        for g, gd in zip(groups, decision.groups, strict=True):
            if gd.batch:
                assert _margin_of(g, gd.batch_cap_w, usd, price) > 0, "batch at a loss under hard limits"


def test_above_the_slo_ceiling_the_minimum_replicas_stop_and_at_peak_risk_only_they_run() -> None:
    ai = group("geforce-rtx-3090", 4, True, 300.0, 0.0)
    miner = group("geforce-gtx-1080-ti", 6, False, 0.0, 0.05)
    needs = [InteractiveNeed("chat", 2, 900.0, 0.5)]
    jobs = [BatchJob("b", 1e9, 2 * 86400, 0.5)]
    cheap = SiteInterval("s", 0, STEP, 0.02, slo_ceiling_usd_per_kwh=1.0)
    below = decide([ai, miner], cheap, needs, jobs)
    assert below.replicas["chat"] >= 2 and below.mining_cards == 6 and below.batch_cards > 0
    above = decide([ai, miner], SiteInterval("s", 0, STEP, 5.0, slo_ceiling_usd_per_kwh=1.0), needs, jobs)
    assert above.replicas["chat"] == 0 and any("SLO ceiling" in n for n in above.notes)
    risky = decide([ai, miner], SiteInterval("s", 0, STEP, 0.02, peak_risk=True), needs, jobs)
    assert risky.replicas["chat"] == 2 and risky.mining_cards == 0 and risky.batch_cards == 0
    assert risky.batch_tokens_per_s == 0
