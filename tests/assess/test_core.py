"""assess_fleet's logic, against the fake seam (assess_fakes): verdicts, reasons, options, unlocks."""

from __future__ import annotations

import pytest
from assess_fakes import MODELS, fake_estimate, fake_tools, fleet, gpu, mixed_fleet, rig
from hypothesis import given, settings
from hypothesis import strategies as st

from rigshift.assess import FleetAssessment, ModelClass, ReadinessCriteria, Reason, Use, assess_fleet
from rigshift.assess.criteria import QUALITY_ORDER, tier_rank
from rigshift.assess.tools import AssessTools
from rigshift.errors import UnknownNameError


def _profile_of(a: FleetAssessment, rig_name: str, index: int = 0):
    row = next(g for g in a.gpus if g.rig == rig_name and g.index == index)
    return a.profile(row.profile)


def test_six_3060_on_x1_risers_offer_a_70b_split_and_six_8b_replicas():
    six = [gpu("rtx-3060-12g") for _ in range(6)]
    a = assess_fleet(fleet(rig("r", six, cores=6, ram=16)), tools=fake_tools())
    options = a.rigs[0].options
    split = [o for o in options if o.kind == "split" and o.model == "llama-3.1-70b"]
    assert len(split) == 1
    assert 2 <= split[0].gpus_used <= 6 and split[0].decode_tps_each > 0
    assert "layer split" in split[0].text
    eight_b = [o for o in options if o.kind == "replicas" and o.model_class == ModelClass.B7_9]
    assert eight_b and eight_b[0].replicas == 6 and eight_b[0].model == "llama-3.1-8b"
    assert eight_b[0].decode_tps_total == pytest.approx(6 * eight_b[0].decode_tps_each, rel=0.01)
    assert any("no tensor parallel" in n for n in a.rigs[0].notes)


def test_a_two_core_rig_hosts_two_replicas_and_says_which_limit_stops_it():
    """The host rule plan and econ use (rigshift.hosts): one replica per CPU core by default."""
    a = assess_fleet(fleet(rig("r", [gpu("rtx-3060-12g") for _ in range(6)], cores=2)), tools=fake_tools())
    eight_b = next(o for o in a.rigs[0].options if o.kind == "replicas" and o.model_class == ModelClass.B7_9)
    assert eight_b.replicas == 2 and eight_b.gpus_used == 2
    assert "4 more GPU(s) fit but the host stops at 2" in eight_b.text and "2 CPU cores" in eight_b.text
    roomy = assess_fleet(
        fleet(rig("r", [gpu("rtx-3060-12g") for _ in range(6)], cores=2)),
        ReadinessCriteria(min_cores_per_gpu=0.25),
        tools=fake_tools(),
    )
    assert next(o for o in roomy.rigs[0].options if o.model_class == ModelClass.B7_9).replicas == 6


def test_pascal_gets_an_fp16_rate_caveat_and_no_training_stack():
    a = assess_fleet(fleet(rig("p", [gpu("gtx-1070")])), tools=fake_tools())
    p = a.profiles[0]
    fp16 = [lim for lim in p.limits if lim.reason == Reason.FP16_RATE]
    assert fp16 and not fp16[0].blocking and "1:65" in fp16[0].detail
    assert p.finetune is not None and not p.finetune.supported
    ampere = assess_fleet(fleet(rig("a", [gpu("rtx-3060-12g")])), tools=fake_tools()).profiles[0]
    assert not any(lim.reason == Reason.FP16_RATE for lim in ampere.limits)


def test_cpu_only_never_counts_as_ai_ready():
    tools = fake_tools(runtimes=lambda spec: ["llama.cpp-cpu"])
    a = assess_fleet(mixed_fleet(), tools=tools)
    assert a.summary.ready_gpus == 0
    assert all(p.tier == "none" and p.gpu_runtime is None for p in a.profiles)
    assert all(p.primary_reason == Reason.RUNTIME for p in a.profiles)
    assert all(t.gpus == 0 for t in a.summary.tiers)


def test_a_miner_holding_vram_limits_by_vram_and_stopping_it_is_an_unlock():
    a = assess_fleet(
        fleet(rig("m", [gpu("rtx-3060-12g", vram_used_by_others_gib=9.0, miner_running=True)] * 2)),
        tools=fake_tools(),
    )
    p = a.profiles[0]
    assert p.primary_reason == Reason.VRAM and not p.headline_ready
    assert "held by other processes" in next(lim.detail for lim in p.limits if lim.reason == Reason.VRAM)
    assert p.recommendation in (Use.KEEP_MINING, Use.EMBEDDINGS_BATCH)
    stop = next(u for u in a.summary.unlocks if u.action == "stop_miners")
    assert stop.gpus_newly_ready == 2 and stop.rigs == 1
    assert stop.vram_newly_ready_gib == pytest.approx(24.0)


def test_unknown_gpu_is_reported_per_gpu_not_fatal():
    a = assess_fleet(fleet(rig("u", [gpu("rtx-9999", vram=12), gpu("rtx-3090")])), tools=fake_tools())
    unknown = _profile_of(a, "u", 0)
    assert unknown.tier == "none" and unknown.primary_reason == Reason.UNKNOWN_GPU
    assert _profile_of(a, "u", 1).headline_ready


def test_unknown_reference_model_is_an_input_error_with_a_suggestion():
    criteria = ReadinessCriteria(reference_models={ModelClass.B7_9: ["llama-3.1-8c"]})
    with pytest.raises(UnknownNameError) as error:
        assess_fleet(mixed_fleet(), criteria, tools=fake_tools())
    assert "llama-3.1-8b" in error.value.suggestions


def test_unknown_quant_in_criteria_is_an_input_error():
    with pytest.raises(UnknownNameError) as error:
        ReadinessCriteria(min_quant="Q4_K_X")
    assert "Q4_K_M" in error.value.suggestions


def test_criteria_for_one_class_keep_the_defaults_of_the_others():
    criteria = ReadinessCriteria(reference_models={ModelClass.B7_9: ["llama-3.1-8b"]})
    assert criteria.models_for(ModelClass.B30_PLUS) == ["llama-3.1-70b", "qwen2.5-32b"]
    with pytest.raises(ValueError, match="no reference model for 12-14B"):
        ReadinessCriteria(reference_models={ModelClass.B12_14: []})


def test_assessment_round_trips_through_json():
    a = assess_fleet(mixed_fleet(), tools=fake_tools())
    again = FleetAssessment.model_validate_json(a.model_dump_json())
    assert again == a
    assert again.profile(again.gpus[0].profile).id == again.gpus[0].profile


def test_summary_counts_add_up():
    a = assess_fleet(mixed_fleet(), tools=fake_tools())
    s = a.summary
    assert s.gpus == len(a.gpus) == sum(r.gpus for r in s.by_card_model) == sum(s.by_recommendation.values())
    shares = [t.gpus for t in s.tiers]
    assert shares == sorted(shares, reverse=True)  # serving a larger class implies serving the smaller
    headline = next(t for t in s.tiers if t.tier == a.criteria.headline_class)
    assert headline.gpus == s.ready_gpus == sum(g.ready for g in a.gpus)
    assert 0 < s.ready_gpus < s.gpus
    assert f"{s.ready_gpus:,} of {s.gpus:,}" in s.headline
    assert ">= 20 tokens/s" in s.criteria and ">= 8k context" in s.criteria


def test_identical_gpus_are_estimated_once_per_group():
    calls: list[int] = []

    def counting(workload, hardware):
        calls.append(1)
        return fake_estimate(workload, hardware)

    def run(n_rigs: int) -> int:
        calls.clear()
        base = fake_tools()
        tools = AssessTools(base.gpu_spec, base.model, counting, base.runtimes_for, base.speed_factor)
        rigs = [rig(f"r{i}", [gpu("rtx-3060-12g") for _ in range(6)]) for i in range(n_rigs)]
        assess_fleet(fleet(*rigs), tools=tools)
        return len(calls)

    assert run(1) == run(40) > 0


def test_slow_risers_are_a_caveat_and_better_risers_are_computed():
    rigs = [rig(f"r{i}", [gpu("rtx-3090") for _ in range(6)], ram=32, disk_read_gbs=3.0) for i in range(3)]
    a = assess_fleet(fleet(*rigs), tools=fake_tools())
    p = a.profiles[0]
    link = next(lim for lim in p.limits if lim.reason == Reason.PCIE_LINK)
    assert not link.blocking and "Gen1 x1" in link.detail
    risers = next(u for u in a.summary.unlocks if u.action == "replace_risers")
    assert risers.rigs == 3 and risers.gpus_affected == 18
    assert f"{risers.gpus_caveat_cleared} GPUs then load a model in under 30 s" in risers.effect
    assert risers.gpus_caveat_cleared == 18


def test_riser_fix_does_not_claim_fast_loads_when_the_disk_is_the_bottleneck():
    slow_disk = [
        rig(f"r{i}", [gpu("rtx-3090") for _ in range(6)], ram=32, disk_read_gbs=0.1) for i in range(2)
    ]
    risers = next(
        u
        for u in assess_fleet(fleet(*slow_disk), tools=fake_tools()).summary.unlocks
        if u.action == "replace_risers"
    )
    assert "0 GPUs then load a model in under 30 s" in risers.effect


def test_a_load_time_limit_blocks_on_the_link_and_risers_unlock_it():
    criteria = ReadinessCriteria(max_load_seconds=10)
    nvme = rig("r", [gpu("rtx-3060-12g") for _ in range(2)], disk_read_gbs=3.0)
    a = assess_fleet(fleet(nvme), criteria, tools=fake_tools())
    p = a.profiles[0]
    assert not p.headline_ready and p.primary_reason == Reason.PCIE_LINK
    risers = next(u for u in a.summary.unlocks if u.action == "replace_risers")
    assert risers.gpus_newly_ready == 2


def test_add_ram_unlock_names_the_amount():
    a = assess_fleet(fleet(rig("r", [gpu("rtx-3090") for _ in range(2)], ram=4)), tools=fake_tools())
    ram = next(u for u in a.summary.unlocks if u.action == "add_ram")
    assert ram.text.startswith("add ") and ram.text.endswith("GB RAM to 1 rig")
    assert ram.gpus_caveat_cleared == 2


def test_tiny_card_falls_back_to_embeddings():
    a = assess_fleet(fleet(rig("r", [gpu("gtx-1050-2g")])), tools=fake_tools())
    p = a.profiles[0]
    assert p.tier == "none" and p.embeddings is not None and p.embeddings.usable
    assert p.recommendation == Use.EMBEDDINGS_BATCH


def test_reserved_gpu_keeps_mining():
    a = assess_fleet(fleet(rig("r", [gpu("rtx-3090", reserved_for_mining=True)])), tools=fake_tools())
    assert a.gpus[0].recommendation == Use.KEEP_MINING


_QUANT_FLOORS = QUALITY_ORDER[2:6]  # Q6_K .. Q4_0


@st.composite
def _criteria_pair(draw: st.DrawFn) -> tuple[ReadinessCriteria, ReadinessCriteria]:
    tps = sorted(draw(st.lists(st.floats(0, 120), min_size=2, max_size=2)))
    ctx = sorted(draw(st.lists(st.sampled_from([2048, 4096, 8192, 16384, 32768]), min_size=2, max_size=2)))
    # A higher quality floor is stricter: its index in QUALITY_ORDER is smaller.
    quant = sorted(
        draw(st.lists(st.sampled_from(_QUANT_FLOORS), min_size=2, max_size=2)), key=QUALITY_ORDER.index
    )
    load = draw(st.sampled_from([None, 200.0, 60.0, 20.0]))
    stricter_load = draw(st.sampled_from([v for v in (200.0, 60.0, 20.0, 5.0) if load is None or v <= load]))
    lax = ReadinessCriteria(
        min_decode_tps=tps[0], min_context=ctx[0], min_quant=quant[1], max_load_seconds=load
    )
    strict = ReadinessCriteria(
        min_decode_tps=tps[1], min_context=ctx[1], min_quant=quant[0], max_load_seconds=stricter_load
    )
    return lax, strict


@settings(max_examples=40, deadline=None)
@given(_criteria_pair())
def test_stricter_criteria_never_make_a_gpu_more_ready(pair):
    lax, strict = pair
    tools = fake_tools()
    a_lax = assess_fleet(mixed_fleet(), lax, tools=tools)
    a_strict = assess_fleet(mixed_fleet(), strict, tools=tools)
    for g_lax, g_strict in zip(a_lax.gpus, a_strict.gpus, strict=True):
        assert tier_rank(g_strict.tier) <= tier_rank(g_lax.tier)
        assert not (g_strict.ready and not g_lax.ready)
    assert a_strict.summary.ready_gpus <= a_lax.summary.ready_gpus


def test_fake_models_cover_the_default_reference_models():
    # Guards the fake itself: a default reference model missing here would fail every test above.
    defaults = ReadinessCriteria()
    names = {n for c in ModelClass for n in defaults.models_for(c)} | {defaults.embedding_model}
    assert names <= set(MODELS)


def test_a_card_the_inventory_could_not_name_is_reported_by_its_printed_name():
    unnamed = gpu("unresolved", vram=24, reported_name="GeForce RTX 9999")
    a = assess_fleet(fleet(rig("u", [unnamed, gpu("rtx-3090")])), tools=fake_tools())
    p = a.profile(a.gpus[0].profile)
    assert a.gpus[0].gpu_model == "unresolved" and p.gpu_name == "GeForce RTX 9999"
    assert p.primary_reason == Reason.UNKNOWN_GPU and "'GeForce RTX 9999'" in p.limits[0].detail
    # Counted, excluded from every share, listed with a hint: never an error, never "not ready".
    s = a.summary
    assert s.gpus == 2 and s.unassessed_gpus == 1
    assert [(u.gpu_name, u.gpus) for u in s.unassessed] == [("GeForce RTX 9999", 1)]
    assert "catalog" in s.unassessed[0].hint and "unassessed" in s.headline
    assert s.ready_gpus == 1 and s.ready_share == 1.0  # the 3090, of the one assessed GPU
    assert not any(row.gpu_name == "GeForce RTX 9999" for row in s.by_card_model)
