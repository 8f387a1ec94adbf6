"""Issue 16 items 4 and 5: a plan's money is bounded (replica-count deployments are paid at a
stated utilisation, never 24 h at full capacity) and no replica beside a running miner is credited
full speed: the plan derates it, or stops the miner and says so."""

import pytest

from rigshift.plan import PlanOptions, parse_demand, plan_placement
from rigshift.units import usd_per_hour

from .fixtures import SEAMS, fleet, rig

CHAT = """\
deployments:
  - name: chat
    model: llama-3.1-8b
    parallel: 2
    replicas: {min: 1, max: 1}
    value: {usd_per_mtok: 0.5}
"""


def _plan(f, **opts):
    demand = parse_demand(CHAT)
    options = PlanOptions.model_validate({**demand.plan_options().model_dump(), **opts})
    return plan_placement(f, demand, options=options, tools=SEAMS)


def test_replica_count_revenue_is_at_the_stated_utilisation_not_full_capacity():
    p = _plan(fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 1)), replica_utilisation=0.5)
    (replica,) = p.replicas
    full = usd_per_hour(replica.tokens_per_s, 0.5)
    assert replica.revenue_usd_per_h == pytest.approx(full * 0.5, abs=1e-6)
    assert p.revenue_usd_per_h == pytest.approx(full * 0.5, abs=1e-4)


def test_a_replica_beside_a_running_miner_is_derated_and_says_so():
    clean = _plan(fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 1)))
    mined = _plan(fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 1, used=3.9, miner_running=True)))
    (alone,) = clean.replicas
    (beside,) = mined.replicas
    assert beside.tokens_per_s == pytest.approx(alone.tokens_per_s * 0.5, rel=1e-6)
    assert any("beside a running miner" in n for n in beside.notes)
    assert any("beside a running miner" in n for n in mined.notes)


def test_stopping_the_miner_gives_full_speed_and_lists_the_stopped_miner():
    clean = _plan(fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 1)))
    stopped = _plan(
        fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 1, used=3.9, miner_running=True)),
        beside_miner="stop_miner",
    )
    (alone,) = clean.replicas
    (replica,) = stopped.replicas
    assert replica.tokens_per_s == pytest.approx(alone.tokens_per_s, rel=1e-6)
    assert any("miners are stopped" in n for n in replica.notes)
    assert any("1 miner(s) stopped" in n for n in stopped.notes)
