"""The assessment with the real catalogs and estimator: the domain claims the issue makes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigshift.assess import ModelClass, Reason, assess_fleet, default_tools
from rigshift.assess.criteria import ReadinessCriteria, tier_rank
from rigshift.assess.keys import SlotKey
from rigshift.assess.profile import ProfileAssessor
from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.models import model_catalog
from rigshift.estimate import GpuSlot, Hardware, PcieLink, Workload, estimate
from rigshift.fleet.demo import demo_fleet
from rigshift.fleet.model import Fleet, Gpu, PcieState, PowerLimits, Rig, Site


@pytest.fixture(scope="module")
def tools():
    return default_tools()


def _key(name: str, vram: float | None = None) -> str:
    """Catalog keys by the names people use: the resolver is the stable interface."""
    return gpu_catalog().resolve(name, vram_gib=vram).key


def _fleet(*rigs: Rig) -> Fleet:
    return Fleet(name="real", sites=[Site(name="s")], rigs=list(rigs))


def _rig(name: str, model: str, vram: float, n: int, gen: int = 1, width: int = 1, **gpu_kw) -> Rig:
    gpus = [Gpu(model=model, vram_gib=vram, pcie=PcieState(gen=gen, width=width), **gpu_kw) for _ in range(n)]
    return Rig(name=name, site="s", cpu_cores=2, ram_gib=8, disk_gib=120, gpus=gpus)


def test_six_3060_12gb_on_x1_risers_split_a_70b_or_run_six_8b_replicas(tools):
    a = assess_fleet(_fleet(_rig("rig_6x3060-12g_x1", _key("RTX 3060", 12), 12, 6)), tools=tools)
    options = a.rigs[0].options
    split = next(o for o in options if o.kind == "split" and o.model == "llama-3.1-70b")
    assert 4 <= split.gpus_used <= 6 and 0 < split.decode_tps_each < 20  # fits, but below "usable" speed
    assert not split.meets_criteria and "layer split" in split.text
    eight_b = next(o for o in options if o.kind == "replicas" and o.model_class == ModelClass.B7_9)
    # The rig's 2 CPU cores host 2 replicas (one core each), whatever the GPUs could do.
    assert eight_b.replicas == 2 and eight_b.decode_tps_each >= 20 and "2 CPU cores" in eight_b.text
    big_host = _rig("rig_6x3060-12g_x1", _key("RTX 3060", 12), 12, 6).model_copy(
        update={"cpu_cores": 6, "ram_gib": 16.0}
    )
    six = assess_fleet(_fleet(big_host), tools=tools).rigs[0].options
    assert next(o for o in six if o.kind == "replicas" and o.model_class == ModelClass.B7_9).replicas == 6


def test_polaris_runs_vulkan_only_and_pascal_gets_the_fp16_note(tools):
    a = assess_fleet(
        _fleet(_rig("polaris", _key("RX 580", 8), 8, 2), _rig("pascal", _key("GTX 1070"), 8, 2)), tools=tools
    )
    polaris = next(p for p in a.profiles if p.gpu_model == _key("RX 580", 8))
    assert polaris.runtimes == ["llama.cpp-vulkan"] and polaris.gpu_runtime == "llama.cpp-vulkan"
    assert polaris.finetune is not None and not polaris.finetune.supported
    pascal = next(p for p in a.profiles if p.gpu_model == _key("GTX 1070"))
    assert "vllm" not in pascal.runtimes
    assert any(lim.reason == Reason.FP16_RATE and "1:64" in lim.detail for lim in pascal.limits)


def test_a_miner_holding_vram_is_limited_by_vram(tools):
    a = assess_fleet(
        _fleet(_rig("m", _key("RTX 3070"), 8, 2, vram_used_by_others_gib=5.0, miner_running=True)),
        tools=tools,
    )
    p = a.profiles[0]
    assert not p.headline_ready and p.primary_reason == Reason.VRAM
    assert next(u for u in a.summary.unlocks if u.action == "stop_miners").gpus_newly_ready == 2


@pytest.mark.parametrize(
    ("card", "vram", "link", "held", "power_w", "count", "disk"),
    [
        ("RTX 3060", 12, PcieLink(1, 1), 0.0, 120.0, 1, 0.08),
        ("RX 580", 8, PcieLink(2, 1), 1.5, None, 1, 0.5),
        ("GTX 1070", 8, None, 0.0, 100.0, 1, 3.0),
        ("RTX 3060", 12, PcieLink(1, 1), 0.0, 130.0, 4, 0.04),
    ],
)
def test_cached_and_rescaled_estimates_equal_direct_ones(tools, card, vram, link, held, power_w, count, disk):
    # The assessment estimates with a reference disk, no power limit and (for one GPU) the card's
    # own link, then rescales: this guards that shortcut against the estimator as it is now.
    assessor = ProfileAssessor(tools, ReadinessCriteria())
    key = SlotKey(_key(card, vram), vram, (link.gen, link.lanes) if link else None, held, power_w, disk)
    keys = (key,) * count
    model = model_catalog().get("llama-3.1-70b" if count > 1 else "llama-3.1-8b")
    workload = Workload(model, "Q4_K_M", 8192, runtime="llama.cpp-vulkan")
    got = assessor.estimate(workload, keys)
    slots = tuple(
        GpuSlot(gpu_catalog().resolve(card, vram_gib=vram), link, held, power_w) for _ in range(count)
    )
    want = estimate(workload, Hardware(gpus=slots, split_mode="layer", disk_read_gbs=disk))
    for field in ("decode_tokens_per_s", "decode_tokens_per_s_total", "prefill_tokens_per_s", "ttft_s",
                  "load_seconds", "load_seconds_link", "load_seconds_disk", "split_ms_per_token"):  # fmt: skip
        assert getattr(got, field) == pytest.approx(getattr(want, field), rel=1e-9), field
    assert (got.fits, got.max_context, got.memory.total) == (want.fits, want.max_context, want.memory.total)


def test_demo_fleet_summary_is_consistent(tools):
    a = assess_fleet(demo_fleet(seed=1, scale=400), tools=tools)
    s = a.summary
    assert s.gpus == len(a.gpus) >= 400
    assert 0 < s.ready_gpus < s.gpus
    assert sum(r.gpus for r in s.by_card_model) == s.gpus
    assert sum(p.gpus for p in a.profiles) == s.gpus
    assert {g.profile for g in a.gpus} == {p.id for p in a.profiles}
    assert all(u.effect for u in s.unlocks)
    # The headline states its criteria.
    assert "7-9B" in s.criteria and ">= Q4_K_M" in s.criteria


def test_power_limit_slows_but_does_not_change_memory(tools):
    spec = gpu_catalog().resolve("RTX 3080", vram_gib=10)
    low = Gpu(model=spec.key, vram_gib=spec.vram_gib, power=PowerLimits(current=spec.tdp_w * 0.5))
    full = Gpu(model=spec.key, vram_gib=spec.vram_gib)
    a = assess_fleet(_fleet(Rig(name="r", site="s", gpus=[low, full])), tools=tools)
    p_low = a.profile(a.gpus[0].profile)
    p_full = a.profile(a.gpus[1].profile)
    c_low, c_full = p_low.class_result(ModelClass.UP_TO_3B), p_full.class_result(ModelClass.UP_TO_3B)
    assert c_low is not None and c_full is not None
    assert c_low.decode_tps < c_full.decode_tps
    assert c_low.vram_needed_gib == c_full.vram_needed_gib


_THRESHOLDS = st.tuples(
    st.floats(0, 80), st.sampled_from([2048, 8192, 32768]), st.sampled_from(["Q8_0", "Q4_K_M"])
)


@pytest.mark.slow
@settings(max_examples=8, deadline=None)
@given(a=_THRESHOLDS, b=_THRESHOLDS)
def test_stricter_criteria_never_make_a_gpu_more_ready_with_the_real_estimator(a, b):
    from rigshift.assess.criteria import QUALITY_ORDER

    lax = ReadinessCriteria(min_decode_tps=min(a[0], b[0]), min_context=min(a[1], b[1]),
                            min_quant=max(a[2], b[2], key=QUALITY_ORDER.index))  # fmt: skip
    strict = ReadinessCriteria(min_decode_tps=max(a[0], b[0]), min_context=max(a[1], b[1]),
                               min_quant=min(a[2], b[2], key=QUALITY_ORDER.index))  # fmt: skip
    fleet = demo_fleet(seed=3, scale=60)
    tools = default_tools()
    ranks_lax = [tier_rank(g.tier) for g in assess_fleet(fleet, lax, tools=tools).gpus]
    ranks_strict = [tier_rank(g.tier) for g in assess_fleet(fleet, strict, tools=tools).gpus]
    assert all(s <= x for s, x in zip(ranks_strict, ranks_lax, strict=True))
