"""The farm decision's steps and its money, on small fleets with the real catalog and estimator.

Each step is a subset of the one before; the host rule, a miner's VRAM and the service level remove
the cards they should; the money is bounded by the demand and the per-class verdicts agree with the
conversion plan (issue 16, items 1 and 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigshift.decision import decide
from rigshift.decision.funnel import class_id
from rigshift.econ.analysis import plan_verdicts
from rigshift.econ.demand import usd_per_request
from rigshift.econ.formulas import DAYS_PER_MONTH
from rigshift.econ.prices import load_inputs
from rigshift.fleet.model import Fleet, Gpu, PcieState, Rig, Site
from rigshift.plan import Demand, load_demand
from rigshift.toolkit import Toolkit, default_toolkit

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = load_inputs(None)


@pytest.fixture(scope="module")
def tools() -> Toolkit:
    return default_toolkit()


def _rig(name: str, key: str, vram: float, n: int, *, cores: int | None = 16, ram: float | None = 64.0,
         held: float = 0.0) -> Rig:  # fmt: skip
    return Rig(
        name=name, site="s", cpu_cores=cores, ram_gib=ram, disk_gib=500.0,
        gpus=[Gpu(model=key, vram_gib=vram, index=i, pcie=PcieState(gen=3, width=4),
                  miner_running=held > 0, vram_used_by_others_gib=held) for i in range(n)],
    )  # fmt: skip


def _fleet(*rigs: Rig) -> Fleet:
    return Fleet(name="t", sites=[Site(name="s", power_price_usd_kwh=0.05)], rigs=list(rigs))


def test_the_host_rule_hosts_only_as_many_cards_as_the_rig_carries(tools: Toolkit) -> None:
    made = decide(_fleet(_rig("small-host", "geforce-rtx-3060-12gb", 12.0, 8, cores=2)), DEFAULTS, tools)
    assert made.summary.funnel.capable == 8
    assert made.summary.funnel.hostable == 2  # one replica per CPU core
    stopped = [g for g in made.gpus if g.stage == "capable"]
    assert len(stopped) == 6 and all("host stops at 2" in (g.stopped_by or "") for g in stopped)


def test_a_miner_holding_vram_leaves_the_card_capable_but_not_hostable(tools: Toolkit) -> None:
    made = decide(_fleet(_rig("mined", "geforce-rtx-3060-12gb", 12.0, 2, held=9.0)), DEFAULTS, tools)
    assert made.summary.funnel.capable == 2 and made.summary.funnel.hostable == 0
    assert all("VRAM" in (g.stopped_by or "") for g in made.gpus)


def test_time_to_first_token_decides_viable_and_the_rest_is_batch_only(tools: Toolkit) -> None:
    fleet = _fleet(_rig("r", "geforce-rtx-3060-12gb", 12.0, 4))
    loose = decide(fleet, DEFAULTS, tools, max_ttft_s=60.0)
    strict = decide(fleet, DEFAULTS, tools, max_ttft_s=0.01)
    assert loose.summary.funnel.viable == loose.summary.funnel.hostable == 4
    assert strict.summary.funnel.viable == 0 and strict.summary.batch_only_gpus == 4
    assert all("first token" in (g.stopped_by or "") for g in strict.gpus)
    assert strict.summary.inputs_digest != loose.summary.inputs_digest
    assert strict.summary.funnel.converted == 0  # a card that is not viable is never converted


def test_same_inputs_same_digest_and_the_cached_decision(tools: Toolkit) -> None:
    fleet = _fleet(_rig("r", "geforce-rtx-3060-12gb", 12.0, 2))
    first = decide(fleet, DEFAULTS, tools)
    assert decide(fleet.model_copy(deep=True), DEFAULTS, tools) is first
    other = load_inputs(ROOT / "examples" / "prices" / "flat.yaml")
    assert decide(fleet, other, tools).summary.inputs_digest != first.summary.inputs_digest


CARDS = (
    ("geforce-rtx-3060-12gb", 12.0),
    ("geforce-rtx-3080-10gb", 10.0),
    ("radeon-rx-580-8gb", 8.0),
    ("geforce-gtx-1070", 8.0),
)


@st.composite
def fleets(draw: st.DrawFn) -> Fleet:
    rigs = []
    for i in range(draw(st.integers(1, 4))):
        key, vram = draw(st.sampled_from(CARDS))
        rigs.append(
            _rig(f"r{i}", key, vram, draw(st.integers(1, 8)),
                 cores=draw(st.sampled_from([None, 2, 8])), ram=draw(st.sampled_from([None, 4.0, 32.0])),
                 held=draw(st.sampled_from([0.0, 0.0, 3.9])))
        )  # fmt: skip
    return Fleet(name="gen", sites=[Site(name="s", power_price_usd_kwh=0.03)], rigs=rigs)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fleet=fleets(),
    demand_factor=st.sampled_from([0.01, 1.0, 50.0]),
    token_factor=st.sampled_from([1.0, 20.0]),
    plan_demand=st.sampled_from([None, load_demand(ROOT / "examples" / "demand" / "small-test.yaml")]),
)
def test_steps_nest_and_money_is_bounded_by_the_demand(
    fleet: Fleet, demand_factor: float, token_factor: float, plan_demand: Demand | None, tools: Toolkit
) -> None:
    ai = DEFAULTS.ai
    prices = tuple(
        p.model_copy(update={"usd_per_m_input": p.usd_per_m_input * token_factor,
                             "usd_per_m_output": p.usd_per_m_output * token_factor})
        for p in ai.token_prices
    )  # fmt: skip
    inputs = DEFAULTS.model_copy(
        update={
            "ai": ai.model_copy(update={"token_prices": prices, "demand": ai.demand.scaled(demand_factor)})
        }
    )
    made = decide(fleet, inputs, tools, plan_demand=plan_demand)
    f = made.summary.funnel
    assert f.gpus >= f.capable >= f.hostable >= f.viable >= f.converted >= f.placed
    by_id = {g.id: g for g in made.gpus}
    converted = set(made.summary.converted_gpu_ids)
    assert all(by_id[i].stage in ("converted", "placed") for i in converted)
    # No class converts more cards than it has viable ones.
    assert made.economics is not None
    for a in made.economics.plan.after:
        if a.use == "infer" and not a.bought:
            assert a.count <= made.viable_by_class.get(a.card_id, 0)
    # Token revenue never exceeds what the demand buys, in econ and in the placement.
    ai = made.economics.inputs.ai
    bought_day = sum(ai.demand.requests_per_day(p.name) * usd_per_request(p, ai) for p in ai.token_prices)
    inferred = sum(a.monthly_revenue_usd for a in made.economics.plan.after if a.use == "infer")
    assert inferred <= bought_day * DAYS_PER_MONTH * (1 + 1e-6) + 1e-6
    if made.plan is not None and plan_demand is None:
        assert made.plan.revenue_usd_per_h * 24 <= bought_day * (1 + 1e-3) + 1e-3
    if made.summary.placement is not None:  # a plan's demand file may ask for replicas, not volume
        assert made.summary.placement.tokens_per_day <= sum(made.summary.demand.values()) * (1 + 1e-9) + 1e-6
    # The per-class table and the conversion plan agree on each class's verdict.
    verdicts = plan_verdicts(made.economics.plan)
    for card in made.economics.cards:
        if card.card.id in verdicts:
            assert card.best_use == verdicts[card.card.id]
    assert made.summary.demand == {
        p.name: pytest.approx(ai.demand.requests_per_day(p.name) * ai.tokens_per_request)
        for p in ai.token_prices
    }
    assert all(class_id(by_id[i].site, by_id[i].gpu_model) in made.viable_by_class for i in converted)
