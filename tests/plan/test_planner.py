"""Behaviour of plan_placement on small fleets built from the fleet model, real estimator."""

from collections import Counter

import pytest

from rigshift.errors import InputError
from rigshift.fleet.model import Fleet, Gpu, PcieState, Rig, Site
from rigshift.plan import Plan, PlanOptions, parse_demand, plan_placement
from rigshift.plan.assign import binpack_baseline
from rigshift.plan.candidates import build_candidates
from rigshift.plan.milp import evaluate
from rigshift.run.tiny_gguf import write_tiny_gguf

from .fixtures import REAL_SEAMS, SEAMS, fleet, rig

CHAT = """\
deployments:
  - name: chat
    model: llama-3.1-8b
    parallel: 2
    replicas: {{min: {min}, max: {max}}}
    value: {{usd_per_mtok: 0.5}}
"""


def plan(f, text, current=None, **opts):
    demand = parse_demand(text)
    options = PlanOptions.model_validate({**demand.plan_options().model_dump(), **opts})
    return plan_placement(f, demand, current=current, options=options, tools=SEAMS)


def gpu_uses(p: Plan) -> Counter:
    seen: Counter = Counter()
    for r in p.replicas:
        for g in r.gpus:
            seen[(g.rig, g.position)] += 1 / r.shared_gpu
    return seen


def test_every_gpu_holds_at_most_one_group_and_the_plan_meets_its_bound():
    f = fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 6), rig("b1", "B", "p104-100", 8))
    p = plan(f, CHAT.format(min=2, max=10))
    assert len(p.replicas) == 10
    assert all(abs(n - 1) < 1e-9 for n in gpu_uses(p).values())
    assert p.bound is not None and p.objective <= p.bound + 1e-6
    assert p.gap is not None and p.gap < 0.01
    assert not p.unplaced
    # faster cards first: all six 3060s carry a replica before the slower P104s fill the rest
    assert sum(r.rig == "a1" for r in p.replicas) == 6


def test_same_input_gives_the_same_plan_and_it_round_trips_json():
    f = fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 6), rig("a2", "A", "geforce-rtx-3090", 4, link=(3, 4)))
    text = CHAT.format(min=1, max=7)
    first, second = plan(f, text), plan(f, text)
    assert [r.model_dump() for r in first.replicas] == [r.model_dump() for r in second.replicas]
    again = Plan.model_validate_json(first.model_dump_json())
    assert again.replicas == first.replicas and again.objective == first.objective


def test_model_too_big_for_every_gpu_is_unplaced_with_counted_reasons():
    f = fleet(rig("b1", "B", "p104-100", 1), rig("b2", "B", "radeon-rx-580-8gb", 1))
    text = """\
deployments:
  - name: huge
    model: llama-3.1-70b
    replicas: {min: 1, max: 1}
"""
    p = plan(f, text)
    assert not p.replicas
    (u,) = p.unplaced
    assert u.deployment == "huge" and u.replicas == 1
    memory = [r for r in u.reasons if r.filter == "memory"]
    assert memory and memory[0].rejected == 2 and "needs 42.8 GiB" in memory[0].message
    assert "a smaller quant or context would fit" in memory[0].message


def test_constraints_filter_sites_models_and_labels_with_counts():
    f = fleet(
        rig("a1", "A", "geforce-rtx-3060-12gb", 4, labels={"tier": "gold"}),
        rig("a2", "A", "geforce-rtx-3090", 2),
        rig("b1", "B", "geforce-rtx-3060-12gb", 3),
    )
    text = """\
deployments:
  - name: chat
    model: llama-3.1-8b
    replicas: {min: 6, max: 6}
    constraints: {sites: [A], gpu_models: [geforce-rtx-3060-12gb], labels: {tier: gold}}
"""
    p = plan(f, text)
    assert {r.rig for r in p.replicas} == {"a1"} and len(p.replicas) == 4
    (u,) = p.unplaced
    assert u.replicas == 2
    by = {r.filter: r.rejected for r in u.reasons}
    assert by == {"site": 3, "labels": 2, "own": 4}  # filters run in order: first rejection counts


def test_reserved_and_hot_gpus_are_never_used():
    r1 = rig("a1", "A", "geforce-rtx-3060-12gb", 2)
    r1.gpus[0].reserved_for_mining = True
    r1.gpus[1].temperature_c = 95
    p = plan(fleet(r1, rig("a2", "A", "geforce-rtx-3060-12gb", 1)), CHAT.format(min=2, max=2))
    assert [(r.rig, r.gpus[0].position) for r in p.replicas] == [("a2", 0)]
    by = {r.filter: r.rejected for r in p.unplaced[0].reasons}
    assert by["reserved for mining"] == 1 and by["hotter than 85 °C"] == 1
    assert p.leftover["reserved for mining"] == 1


def test_big_model_splits_over_gpus_of_one_rig_with_tensor_split():
    f = fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 8), rig("a2", "A", "geforce-rtx-3060-12gb", 1))
    text = """\
deployments:
  - name: big
    model: qwen2.5-32b
    context: 4096
    min_tokens_per_s: 0  # the split's mechanics, not its speed (the fake estimator is slow here)
    replicas: {min: 1, max: 2}
    value: {usd_per_mtok: 2}
"""
    p = plan(f, text)
    assert len(p.replicas) == 2
    for r in p.replicas:
        assert r.rig == "a1" and len(r.gpus) > 1
        assert r.tensor_split is not None and abs(sum(r.tensor_split) - 1) < 1e-3
    assert len({g.position for r in p.replicas for g in r.gpus}) == sum(len(r.gpus) for r in p.replicas)


def test_vllm_tensor_parallel_is_refused_on_x1_risers():
    f = fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 4, link=(1, 1)))
    text = """\
deployments:
  - name: big
    model: qwen2.5-14b
    quant: F16
    runtime: vllm
    replicas: {min: 1, max: 1}
"""
    p = plan(f, text)
    assert not p.replicas
    assert any(r.filter == "pcie" for r in p.unplaced[0].reasons)


def test_host_cpu_limits_replicas_per_rig():
    f = fleet(rig("a1", "A", "p104-100", 8, cores=2))
    text = """\
deployments:
  - name: small
    model: qwen2.5-0.5b
    context: 2048
    replicas: {min: 0, max: 8}
    value: {priority: 1}
"""
    p = plan(f, text)
    assert len(p.replicas) == 2  # 2 cores, 1 core per replica


def test_power_budget_binds_and_caps_buy_more_tokens():
    rigs = [rig(f"a{i}", "A", "geforce-rtx-3060-12gb", 6) for i in range(3)]
    text = CHAT.format(min=0, max=18)
    budget_kw = 60 * 3 / 1000 + 1.5  # hosts plus about 1.5 kW of GPUs: not enough for 18 at full power
    capped = plan(fleet(*rigs, budgets_kw={"A": budget_kw}), text)
    uncapped = plan(fleet(*rigs, budgets_kw={"A": budget_kw}), text, power_cap_fractions=(1.0,))
    for p in (capped, uncapped):
        assert p.power_w_by_site["A"] <= budget_kw * 1000 + 1e-6
    assert capped.objective > uncapped.objective
    assert any(g.power_cap_w for r in capped.replicas for g in r.gpus)
    assert len(capped.replicas) > len(uncapped.replicas)


def test_throughput_target_places_enough_replicas_and_pays_only_up_to_target():
    f = fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 8))
    text = """\
deployments:
  - name: rag
    model: llama-3.1-8b
    throughput: {tokens_per_s: 250}
    value: {usd_per_mtok: 1}
"""
    p = plan(f, text)
    tokens = sum(r.tokens_per_s for r in p.replicas)
    assert tokens >= 250
    best_single = max(r.tokens_per_s for r in p.replicas)
    assert tokens - best_single < 250  # no replica beyond what the target needs
    assert p.revenue_usd_per_h == pytest.approx(250 * 3.6e-3, rel=1e-3)


def test_replan_keeps_replicas_and_moves_only_those_on_a_lost_rig():
    rigs = [
        rig("a1", "A", "geforce-rtx-3060-12gb", 4),
        rig("a2", "A", "geforce-rtx-3060-12gb", 4),
        rig("a3", "A", "geforce-rtx-3060-12gb", 4),
    ]
    text = CHAT.format(min=6, max=6)
    first = plan(fleet(*rigs), text)
    same = plan(fleet(*rigs), text, current=first)
    assert {m.action for m in same.moves} == {"keep"}
    lost = first.replicas[0].rig
    after = plan(fleet(*[r for r in rigs if r.name != lost]), text, current=first)
    actions = Counter(m.action for m in after.moves)
    on_lost = sum(r.rig == lost for r in first.replicas)
    assert actions["move"] == on_lost and actions["keep"] == 6 - on_lost
    assert all(r.rig != lost for r in after.replicas)


def test_replan_prefers_staying_unless_a_move_gains_more_than_migration_cost():
    f1 = fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 1))
    text = CHAT.format(min=1, max=1)
    first = plan(f1, text)
    # a faster card appears: worth moving only if the gain beats the migration cost
    f2 = fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 1), rig("z9", "A", "geforce-rtx-3090", 1, link=(3, 4)))
    stay = plan(f2, text, current=first, migration_cost=10.0)
    move = plan(f2, text, current=first, migration_cost=0.0)
    assert [r.rig for r in stay.replicas] == ["a1"]
    assert [r.rig for r in move.replicas] == ["z9"]
    assert [m.action for m in move.moves] == ["move"]


def test_small_models_share_a_large_gpu_when_replicas_are_wanted():
    f = fleet(rig("a1", "A", "geforce-rtx-3090", 1, link=(3, 4)))
    text = """\
deployments:
  - name: tiny
    model: qwen2.5-0.5b
    context: 2048
    replicas: {min: 3, max: 3}
    value: {priority: 1}
"""
    p = plan(f, text, cpu_cores_per_replica=0)
    assert len(p.replicas) == 3 and not p.unplaced
    assert {r.shared_gpu for r in p.replicas} == {3}


def test_solver_never_worse_than_greedy_and_baseline():
    f = fleet(
        rig("a1", "A", "geforce-rtx-3090", 2, link=(3, 4)),
        rig("a2", "A", "geforce-rtx-3060-12gb", 4),
        rig("b1", "B", "radeon-rx-580-8gb", 6),
    )
    text = """\
deployments:
  - name: chat
    model: llama-3.1-8b
    replicas: {min: 0, max: 20}
    value: {usd_per_mtok: 0.3}
  - name: code
    model: qwen2.5-14b
    replicas: {min: 0, max: 4}
    value: {usd_per_mtok: 1.5}
"""
    milp = plan(f, text)
    greedy = plan(f, text, solver="greedy")
    assert milp.objective >= greedy.objective - 1e-9
    demand = parse_demand(text)
    cands = build_candidates(f, demand, demand.plan_options(), SEAMS)
    counts, _ = binpack_baseline(cands)
    assert evaluate(cands, counts) <= milp.objective + 1e-9


def test_cross_rig_split_only_when_the_deployment_allows_it():
    rigs = [rig(f"a{i}", "A", "geforce-rtx-3060-12gb", 1) for i in range(3)]
    text = """\
deployments:
  - name: big
    model: qwen2.5-32b
    context: 4096
    replicas: {min: 1, max: 1}
    value: {usd_per_mtok: 1}
    constraints: {same_rig: SAME}
"""
    strict = plan(fleet(*rigs), text.replace("SAME", "true"))
    assert not strict.replicas and strict.unplaced
    assert any(r.filter == "memory" for r in strict.unplaced[0].reasons)
    loose = plan(fleet(*rigs), text.replace("SAME", "false"))
    (replica,) = loose.replicas
    assert replica.cross_rig and len({g.rig for g in replica.gpus}) == len(replica.gpus) >= 2
    assert not loose.unplaced
    assert any("cross-rig" in n for n in loose.notes)
    assert loose.deployments[0].replicas == 1
    assert loose.revenue_usd_per_h == pytest.approx(replica.revenue_usd_per_h, abs=1e-3)
    assert loose.power_w_by_site["A"] > strict.power_w_by_site["A"]


def test_real_estimator_plan_fits_memory_and_power():
    rigs = [
        rig("a1", "A", "geforce-rtx-3060-12gb", 6, used=1.5),
        rig("a2", "A", "radeon-rx-580-8gb", 8, cores=2, ram=4.0),
        rig("a3", "A", "geforce-rtx-3090", 2, link=(3, 16)),
    ]
    f = fleet(*rigs, budgets_kw={"A": 2.0})
    text = """\
deployments:
  - name: chat
    model: llama-3.1-8b
    context: 8192
    replicas: {min: 1, max: 12}
    value: {usd_per_mtok: 0.5}
  - name: code
    model: qwen2.5-14b
    replicas: {min: 0, max: 4}
    value: {usd_per_mtok: 1.2}
"""
    demand = parse_demand(text)
    p = plan_placement(f, demand, options=demand.plan_options(), tools=REAL_SEAMS)
    free = {(r.name, i): g.vram_gib - g.vram_used_by_others_gib for r in rigs for i, g in enumerate(r.gpus)}
    for replica in p.replicas:
        for g, need in zip(replica.gpus, replica.vram_gib_per_gpu, strict=True):
            assert need <= free[(g.rig, g.position)]
    assert p.power_w_by_site["A"] <= 2000 + 1e-6
    assert p.bound is not None and p.objective <= p.bound + 1e-6
    cores = Counter(r.rig for r in p.replicas)
    assert cores["a2"] <= 2  # a 2-core host serves two replicas at most


def test_circuit_budget_and_power_reason_for_what_does_not_fit():
    rigs = [rig(f"a{i}", "A", "geforce-rtx-3060-12gb", 4, labels={"circuit": "row1"}) for i in range(2)]
    text = CHAT.format(min=8, max=8) + "options:\n  circuit_power_kw: {row1: 0.6}\n  leftover: off\n"
    p = plan(fleet(*rigs), text)
    watts = sum(r.power_w for r in p.replicas)
    assert 0 < watts <= 600 - 2 * 60 + 1e-6  # the circuit also feeds the two hosts
    (u,) = p.unplaced
    assert any(r.filter == "power" and "circuit row1" in r.message for r in u.reasons)


def test_leftover_gpus_mine_only_within_the_budget_left():
    rigs = [rig(f"a{i}", "A", "geforce-rtx-3060-12gb", 4) for i in range(2)]
    text = CHAT.format(min=1, max=1) + "options:\n  leftover: mining\n"
    budget_kw = 0.12 + 0.2 + 0.3  # hosts, about one serving GPU, and room for a few miners
    p = plan(fleet(*rigs, budgets_kw={"A": budget_kw}), text)
    assert len(p.replicas) == 1
    assert p.leftover["mining"] + p.leftover["off (no power left to mine)"] == 7
    assert 0 < p.leftover["mining"] < 7
    assert p.power_w_by_site["A"] <= budget_kw * 1000 + 1e-6


def test_unknown_site_or_gpu_model_in_constraints_is_an_input_error_with_suggestions():
    f = fleet(rig("a1", "tx-ercot", "geforce-rtx-3060-12gb", 1))
    text = (
        CHAT.format(min=1, max=1) + "    constraints: {sites: [tx-ercott], gpu_models: [geforce-rtx-3060]}\n"
    )
    with pytest.raises(InputError) as caught:
        plan(f, text)
    message = str(caught.value)
    assert "no site 'tx-ercott'" in message and "did you mean: tx-ercot" in message
    assert "unknown GPU model 'geforce-rtx-3060'" in message and "geforce-rtx-3060-12gb" in message


def test_empty_fleet_reports_every_minimum_unplaced_without_crashing():
    p = plan(fleet(), CHAT.format(min=2, max=4))
    assert not p.replicas
    (u,) = p.unplaced
    assert u.replicas == 2 and u.reasons[0].message == "the fleet has no GPUs"


def test_request_profile_pays_for_prompts():
    f = fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 8))
    by_tokens = "throughput: {tokens_per_s: 150}"
    by_requests = "throughput: {requests_per_s: 0.5, prompt_tokens: 4000, output_tokens: 300}"
    text = """\
deployments:
  - name: rag
    model: llama-3.1-8b
    GOAL
    value: {usd_per_mtok: 1}
"""
    plain = plan(f, text.replace("GOAL", by_tokens))
    prompted = plan(f, text.replace("GOAL", by_requests))
    assert plain.replicas[0].tokens_per_s > prompted.replicas[0].tokens_per_s
    assert len(prompted.replicas) > len(plain.replicas)
    assert not prompted.unplaced and sum(r.tokens_per_s for r in prompted.replicas) >= 150


def test_gpus_held_by_another_deployment_are_reported_as_taken():
    f = fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 2))
    text = """\
deployments:
  - name: gold
    model: llama-3.1-8b
    replicas: {min: 2, max: 2}
    value: {usd_per_mtok: 5}
  - name: bronze
    model: llama-3.1-8b
    replicas: {min: 1, max: 1}
    value: {usd_per_mtok: 0.01}
"""
    p = plan(f, text)
    assert {r.deployment for r in p.replicas} in ({"gold"}, {"bronze", "gold"})
    short = {u.deployment: {r.filter: r.rejected for r in u.reasons} for u in p.unplaced}
    (name,) = short
    assert short[name].get("taken") and short[name]["taken"] >= 1


def test_a_budget_eaten_by_idle_gpus_is_explained():
    rigs = [rig(f"a{i}", "A", "geforce-rtx-3060-12gb", 8) for i in range(3)]
    f = fleet(*rigs, budgets_kw={"A": 0.3})  # 3 hosts (180 W) + 24 idle cards (~330 W) > 300 W
    p = plan(f, CHAT.format(min=1, max=4))
    assert not p.replicas
    assert any("site A" in n and "leftover: off" in n for n in p.notes)
    assert any(r.filter == "power" for r in p.unplaced[0].reasons)
    off = plan(f, CHAT.format(min=1, max=4) + "options:\n  leftover: off\n")
    assert off.replicas


def test_a_model_file_is_planned_by_its_path(tmp_path):
    path = write_tiny_gguf(tmp_path / "tiny.gguf")
    f = fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 1))
    text = f"deployments:\n  - name: tiny\n    model: {path}\n    quant: F16\n    context: 256\n    replicas: 1\n"
    p = plan(f, text, solver="milp")
    (replica,) = p.replicas
    assert replica.model == str(path)


def _real(f: Fleet, text: str) -> Plan:
    from rigshift.toolkit import default_toolkit

    demand = parse_demand(text)
    return plan_placement(f, demand, options=demand.plan_options(), tools=default_toolkit())


def _catalog_rig(name: str, key: str, vram: float, n: int, **host: object) -> Rig:
    gpus = [Gpu(model=key, vram_gib=vram, index=i, pcie=PcieState(gen=1, width=1)) for i in range(n)]
    return Rig(name=name, site="s", gpus=gpus, **host)  # type: ignore[arg-type]


def test_nothing_places_a_32b_model_below_the_assessments_speed_floor():
    """coder-32b on 3 × GTX 1070 fits as a split but decodes at ~11 tok/s: assess calls it unusable."""
    f = Fleet(name="t", sites=[Site(name="s")], rigs=[_catalog_rig("p", "geforce-gtx-1070", 8, 3)])
    text = """\
deployments:
  - name: coder-32b
    model: qwen2.5-32b
    context: 4096
    replicas: {min: 1, max: 1}
    value: {usd_per_mtok: 0.9}
"""
    p = _real(f, text)
    assert not p.replicas and p.min_tokens_per_s == {"coder-32b": 20.0}
    (speed,) = [r for r in p.unplaced[0].reasons if r.filter == "speed"]
    assert "< the 20 tok/s floor" in speed.message and "min_tokens_per_s" in speed.message
    slow_ok = _real(f, text.replace("context: 4096", "context: 4096\n    min_tokens_per_s: 5"))
    assert len(slow_ok.replicas) == 1 and len(slow_ok.replicas[0].gpus) == 3


def test_a_full_host_names_its_exact_limit_and_the_option_that_would_change_it():
    f = Fleet(
        name="t",
        sites=[Site(name="s")],
        rigs=[_catalog_rig("r2c", "geforce-rtx-3060-12gb", 12, 8, cpu_cores=2, ram_gib=32)],
    )
    text = """\
deployments:
  - name: chat
    model: llama-3.1-8b
    replicas: {min: 8, max: 8}
    value: {usd_per_mtok: 0.5}
"""
    p = _real(f, text)
    assert len(p.replicas) == 2  # one per core, as assess counts (rigshift.hosts)
    (u,) = p.unplaced
    (host,) = [r for r in u.reasons if r.filter.startswith("host")]
    assert host.filter == "host cpu" and host.rejected == 6
    assert "r2c: 2 cores at 1 per replica" in host.message and "cpu_cores_per_replica" in host.message


def test_unknown_cards_are_unassessed_never_an_error():
    odd = Gpu(model="unresolved", reported_name="GeForce RTX 9999", vram_gib=16)
    f = Fleet(
        name="t",
        sites=[Site(name="s")],
        rigs=[_catalog_rig("ok", "geforce-rtx-3060-12gb", 12, 1), Rig(name="odd", site="s", gpus=[odd])],
    )
    p = _real(f, CHAT.format(min=1, max=2))
    assert len(p.replicas) == 1 and p.gpus == 2
    assert p.unassessed == {"GeForce RTX 9999": 1}
    assert p.excluded == {"unassessed (card not in the catalog)": 1}
