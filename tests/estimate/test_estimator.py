"""Behaviour of the estimate: fit, inverse, splits, links, runtimes, power caps."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.models import load_model
from rigshift.errors import InputError
from rigshift.estimate import GpuSlot, Hardware, PcieLink, Workload, estimate

GPUS = gpu_catalog()
RTX3060 = GPUS.resolve("RTX 3060", vram_gib=12)
RTX3090 = GPUS.resolve("RTX 3090")
GTX1070 = GPUS.resolve("GTX 1070")
RX580 = GPUS.resolve("RX 580", vram_gib=8)
CMP170 = GPUS.resolve("CMP 170HX")
LLAMA8 = load_model("llama-3.1-8b")
LLAMA70 = load_model("llama-3.1-70b")


def test_llama_8b_q4_on_a_3060_fits_with_room() -> None:
    result = estimate(Workload(LLAMA8, "Q4_K_M", context=8192), Hardware.of(RTX3060))
    assert result.fits
    assert result.memory.total < RTX3060.vram_gib
    assert result.max_context >= 8192
    # bandwidth bound: no faster than reading the weights once per token at full bandwidth
    assert result.decode_tokens_per_s < RTX3060.mem_bandwidth_gbs / result.memory.weights / 1.07
    assert result.prefill_tokens_per_s > 10 * result.decode_tokens_per_s


def test_does_not_fit_says_how_much_is_missing() -> None:
    result = estimate(Workload(LLAMA70, "Q4_K_M", context=8192), Hardware.of(RTX3090))
    assert not result.fits
    assert "GiB" in result.reason and "usable" in result.reason
    assert result.max_context == 0


def test_vram_held_by_a_miner_shrinks_capacity() -> None:
    free = estimate(Workload(LLAMA8, "Q8_0", context=8192), Hardware.of(RTX3060))
    busy_slot = GpuSlot(RTX3060, used_by_others_gib=5.0)
    busy = estimate(Workload(LLAMA8, "Q8_0", context=8192), Hardware(gpus=(busy_slot,)))
    assert free.fits and not busy.fits
    assert "held by other processes" in busy.reason
    assert busy.memory.capacity[0] == pytest.approx(RTX3060.vram_gib - 5.0)


def test_max_context_is_the_largest_that_fits() -> None:
    work = Workload(LLAMA8, "Q8_0", context=4096)
    hw = Hardware.of(RTX3060)
    largest = estimate(work, hw).max_context
    assert estimate(replace(work, context=largest), hw).fits
    assert not estimate(replace(work, context=largest + 256), hw).fits


def test_max_parallel_is_the_most_sequences_that_fit() -> None:
    work = Workload(LLAMA8, "Q4_K_M", context=8192)
    hw = Hardware.of(RTX3060)
    most = estimate(work, hw).max_parallel
    assert 1 <= most < 256
    assert estimate(replace(work, parallel=most), hw).fits
    assert not estimate(replace(work, parallel=most + 1), hw).fits


def test_quantized_kv_cache_is_smaller() -> None:
    hw = Hardware.of(RTX3060)
    sizes = [
        estimate(Workload(LLAMA8, context=16384, kv_type=t), hw).memory.kv_cache
        for t in ("f16", "q8_0", "q4_0")
    ]
    assert sizes[0] > sizes[1] > sizes[2]
    assert sizes[0] == pytest.approx(2.0, rel=0.01)  # 32 layers × 8 × 128 × 2 × 2 bytes × 16384


def test_an_x1_gen1_riser_loads_slowly_but_decodes_the_same() -> None:
    work = Workload(LLAMA8, "Q4_K_M")
    slot_x16 = Hardware(gpus=(GpuSlot(RTX3060, PcieLink(3, 16)),), disk_read_gbs=10.0)
    slot_x1 = Hardware(gpus=(GpuSlot(RTX3060, PcieLink(1, 1)),), disk_read_gbs=10.0)
    fast, slow = estimate(work, slot_x16), estimate(work, slot_x1)
    assert slow.load_seconds > 10 * fast.load_seconds
    assert slow.load_seconds == pytest.approx(slow.memory.weights * 1024**3 / 0.25e9, rel=0.01)
    assert slow.decode_tokens_per_s == pytest.approx(fast.decode_tokens_per_s)
    assert any("slow model loads" in note for note in slow.notes)


def test_a_card_limits_its_own_link_whatever_the_slot() -> None:
    slot = GpuSlot(CMP170, PcieLink(3, 16))
    assert slot.effective_link == PcieLink(1, 4)


def test_layer_split_divides_memory_and_pays_for_the_links() -> None:
    work = Workload(LLAMA70, "Q4_K_M", context=8192)
    rig = Hardware.of(RTX3060, 6, PcieLink(1, 1))
    result = estimate(work, rig)
    assert result.fits
    assert len(result.memory.per_gpu) == 6
    assert max(result.memory.per_gpu) < RTX3060.vram_gib
    assert result.split_ms_per_token > 0
    fast_links = estimate(work, Hardware.of(RTX3060, 6, PcieLink(3, 16)))
    assert fast_links.split_ms_per_token < result.split_ms_per_token


def test_uneven_tensor_split_follows_the_ratios() -> None:
    work = Workload(LLAMA8, "F16", context=4096)
    gpus = (GpuSlot(RTX3090), GpuSlot(RTX3060))
    mostly_first = estimate(work, Hardware(gpus=gpus, tensor_split=(3.0, 1.0))).memory.per_gpu
    mostly_second = estimate(work, Hardware(gpus=gpus, tensor_split=(1.0, 3.0))).memory.per_gpu
    assert mostly_first[0] > 2 * mostly_second[0]
    assert mostly_second[1] > mostly_first[1]
    assert sum(mostly_first) == pytest.approx(sum(mostly_second), rel=0.01)


def test_tensor_parallel_needs_real_pcie_links() -> None:
    """All-reduces move activations of every token twice per layer: over an x1 riser prompt
    processing collapses, over x16 Gen4 tensor parallelism beats a layer split."""
    work = Workload(LLAMA8, "F16", context=4096, runtime="vllm", prompt_tokens=2048)

    def prefill(link: PcieLink, mode: str) -> float:
        return estimate(work, Hardware.of(RTX3090, 2, link, split_mode=mode)).prefill_tokens_per_s

    assert prefill(PcieLink(1, 1), "tensor") < 0.5 * prefill(PcieLink(1, 1), "layer")
    assert prefill(PcieLink(4, 16), "tensor") > prefill(PcieLink(4, 16), "layer")


@pytest.mark.parametrize(
    ("gpu", "runtime", "why"),
    [
        (GTX1070, "vllm", "compute capability"),
        (RX580, "llama.cpp-rocm", "no longer supports gfx803"),
        (RX580, "llama.cpp-cuda", "NVIDIA"),
    ],
)
def test_runtime_support_is_a_reason(gpu, runtime: str, why: str) -> None:  # type: ignore[no-untyped-def]
    result = estimate(
        Workload(load_model("qwen2.5-0.5b"), "F16", context=2048, runtime=runtime), Hardware.of(gpu)
    )
    assert not result.fits
    assert why in result.reason


def test_gptq_is_not_a_llama_cpp_format() -> None:
    result = estimate(Workload(LLAMA8, "GPTQ-Int4", runtime="llama.cpp-cuda"), Hardware.of(RTX3090))
    assert not result.fits and "GGUF" in result.reason


def test_default_runtime_follows_the_vendor() -> None:
    assert estimate(Workload(LLAMA8), Hardware.of(RTX3060)).runtime == "llama.cpp-cuda"
    assert estimate(Workload(LLAMA8), Hardware.of(RX580)).runtime == "llama.cpp-vulkan"
    assert estimate(Workload(LLAMA8), Hardware.of(GPUS.resolve("RX 6800 XT"))).runtime == "llama.cpp-rocm"


def test_pascal_gets_a_note_about_fp16() -> None:
    result = estimate(Workload(LLAMA8), Hardware.of(GTX1070))
    assert any("1:64" in note for note in result.notes)


def test_moe_decodes_faster_than_its_total_size_suggests() -> None:
    moe = load_model("qwen3-30b-a3b")
    dense = load_model("qwen3-32b")
    hw = Hardware.of(GPUS.resolve("RTX A6000"))
    assert (
        estimate(Workload(moe), hw).decode_tokens_per_s
        > 3 * estimate(Workload(dense), hw).decode_tokens_per_s
    )


def test_power_cap_costs_prefill_more_than_decode() -> None:
    work = Workload(LLAMA8)
    full = estimate(work, Hardware.of(RTX3090))
    capped = estimate(work, Hardware(gpus=(GpuSlot(RTX3090, power_limit_w=0.6 * RTX3090.tdp_w),)))
    decode_loss = 1 - capped.decode_tokens_per_s / full.decode_tokens_per_s
    prefill_loss = 1 - capped.prefill_tokens_per_s / full.prefill_tokens_per_s
    assert 0 < decode_loss < prefill_loss < 0.25


@settings(max_examples=60, deadline=None)
@given(
    context=st.integers(256, 32768),
    extra=st.integers(1, 32768),
    parallel=st.integers(1, 16),
    quant=st.sampled_from(["Q2_K", "Q4_K_M", "Q8_0", "F16"]),
)
def test_more_context_never_needs_less_memory_or_decodes_faster(
    context: int, extra: int, parallel: int, quant: str
) -> None:
    hw = Hardware.of(RTX3090)
    short = estimate(Workload(LLAMA8, quant, context=context, parallel=parallel, prompt_tokens=context), hw)
    long = estimate(
        Workload(LLAMA8, quant, context=context + extra, parallel=parallel, prompt_tokens=context + extra), hw
    )
    assert long.memory.total >= short.memory.total
    assert long.decode_tokens_per_s <= short.decode_tokens_per_s
    assert not (long.fits and not short.fits)


@settings(max_examples=40, deadline=None)
@given(parallel=st.integers(1, 63))
def test_batching_raises_total_throughput_but_not_per_stream(parallel: int) -> None:
    hw = Hardware.of(RTX3090)
    one = estimate(Workload(LLAMA8, context=2048, parallel=parallel), hw)
    more = estimate(Workload(LLAMA8, context=2048, parallel=parallel + 1), hw)
    assert more.decode_tokens_per_s_total >= one.decode_tokens_per_s_total
    assert more.decode_tokens_per_s_total / (parallel + 1) <= one.decode_tokens_per_s_total / parallel + 1e-9


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"context": 0}, "context"), ({"parallel": 0}, "parallel"), ({"parallel": 1000}, "parallel")],
)
def test_bad_values_name_the_field(changes: dict, field: str) -> None:
    with pytest.raises(InputError) as error:
        estimate(replace(Workload(LLAMA8), **changes), Hardware.of(RTX3060))
    assert error.value.problems[0].field == field


def test_tensor_split_must_match_the_gpus() -> None:
    with pytest.raises(InputError, match="one ratio per GPU"):
        estimate(Workload(LLAMA8), Hardware(gpus=(GpuSlot(RTX3060),) * 2, tensor_split=(1.0,)))
