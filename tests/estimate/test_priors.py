"""Architecture-class priors, provenance, partial offload, the CPU runtime and the correction math."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.models import load_model
from rigshift.cli.app import app
from rigshift.estimate import Hardware, Workload, estimate
from rigshift.estimate.correction import Correction, combine_ratios, corrected_spread, solve_ratio
from rigshift.estimate.priors import arch_class, parse_table, prior_table
from rigshift.estimate.provenance import Provenance
from rigshift.estimate.quants import quant_recipe
from rigshift.estimate.tensors import weight_bytes

GPU = gpu_catalog().resolve
LLAMA_8B = load_model("llama-3.1-8b")
QWEN_14B = load_model("qwen3-14b")


def test_vulkan_on_polaris_decodes_below_the_cuda_equivalent_roofline() -> None:
    rx580 = GPU("RX 580 8GB")
    result = estimate(Workload(LLAMA_8B, "Q4_K_M", runtime="llama.cpp-vulkan"), Hardware.of(rx580))
    roofline = rx580.mem_bandwidth_gbs * 1e9 * 0.92 / weight_bytes(LLAMA_8B, quant_recipe("Q4_K_M")).on_gpu
    assert result.decode_tokens_per_s < 0.75 * roofline
    assert result.provenance.arch_class == "polaris/vulkan" and not result.provenance.no_published_rows
    assert result.provenance.rows > 0 and result.provenance.uncalibrated  # every figure a prior


def test_k_quants_cost_polaris_more_than_legacy_quants() -> None:
    rx580 = Hardware.of(GPU("RX 580 8GB"))
    k = estimate(Workload(LLAMA_8B, "Q4_K_M", runtime="llama.cpp-vulkan"), rx580)
    legacy = estimate(Workload(LLAMA_8B, "Q4_0", runtime="llama.cpp-vulkan"), rx580)
    # Q4_0 is ~8% smaller than Q4_K_M; the dequantisation prior makes the gap larger than that
    assert legacy.decode_tokens_per_s / k.decode_tokens_per_s > 1.15


def test_pascal_int8_prefill_is_faster_than_the_bare_dp4a_model() -> None:
    from rigshift.estimate import priors

    work, hw = Workload(load_model("qwen2.5-7b"), "Q4_K_M"), Hardware.of(GPU("GTX 1060 6GB"))
    with_prior = estimate(work, hw).prefill_tokens_per_s
    priors.NEUTRAL = True
    try:
        bare = estimate(work, hw).prefill_tokens_per_s
    finally:
        priors.NEUTRAL = False
    assert with_prior > 1.5 * bare


def test_a_class_without_rows_is_flagged_uncalibrated_with_a_wider_interval() -> None:
    polaris = estimate(Workload(LLAMA_8B, runtime="llama.cpp-vulkan"), Hardware.of(GPU("RX 580 8GB")))
    rdna1 = estimate(Workload(LLAMA_8B, runtime="llama.cpp-vulkan"), Hardware.of(GPU("RX 5700 XT")))
    assert arch_class(GPU("RX 5700 XT")) == "rdna1"
    assert rdna1.provenance.no_published_rows and rdna1.provenance.rows == 0
    assert rdna1.provenance.spread_pct > polaris.provenance.spread_pct
    low, high = rdna1.provenance.interval
    assert low < rdna1.decode_tokens_per_s < high
    assert "uncalibrated" in rdna1.provenance.label()


def test_cmp_30hx_is_its_own_class_apart_from_the_tensor_core_cmps() -> None:
    assert arch_class(GPU("CMP 30HX")) == "turing-cmp-tu116"
    assert arch_class(GPU("CMP 40HX")) == "turing-cmp"
    assert arch_class(GPU("Tesla P100")) == "pascal-hbm"


def test_every_prior_in_the_table_says_what_it_rests_on() -> None:
    for prior in prior_table().priors:
        assert prior.rests_on, prior
        assert prior.decode_rows == 0 or prior.decode_spread_pct > 0, prior


def test_a_table_lookup_falls_back_from_quant_to_class_to_uncalibrated() -> None:
    table = parse_table(
        {
            "uncalibrated_spread_pct": 70,
            "default_spread_pct": 25,
            "priors": [
                {"runtime": "r", "class": "c", "decode": 0.5, "decode_rows": 3, "decode_spread_pct": 20},
                {"runtime": "r", "class": "c", "quant": "legacy", "decode": 0.8, "decode_rows": 1},
            ],
        }
    )
    assert table.lookup("r", "c", "legacy").decode == 0.8
    assert table.lookup("r", "c", "kquant").decode == 0.5
    missing = table.lookup("r", "other", "kquant")
    assert missing.uncalibrated and missing.decode == 1.0 and missing.decode_spread_pct == 70


# ------------------------------------------------------------------------------------ partial offload


def test_partial_offload_is_monotonic_in_gpu_layers() -> None:
    hw = Hardware.of(GPU("P104-100", vram_gib=8))
    results = [estimate(Workload(QWEN_14B, gpu_layers=n, context=4096), hw) for n in range(0, 41, 5)]
    decode = [r.decode_tokens_per_s for r in results]
    gpu_mem = [r.memory.per_gpu[0] for r in results]
    host = [r.memory.host_ram for r in results]
    assert decode == sorted(decode) and decode[0] < decode[-1] / 3
    assert gpu_mem == sorted(gpu_mem)
    assert host == sorted(host, reverse=True)
    assert [r.cpu_layers for r in results] == [40 - n for n in range(0, 41, 5)]


def test_auto_offloads_the_most_layers_that_fit() -> None:
    hw = Hardware.of(GPU("P104-100", vram_gib=8))
    auto = estimate(Workload(QWEN_14B, gpu_layers="auto"), hw)
    assert auto.fits and 0 < auto.cpu_layers < QWEN_14B.n_layers
    one_more = estimate(Workload(QWEN_14B, gpu_layers=auto.gpu_layers + 1), hw)  # type: ignore[operator]
    assert not one_more.fits
    full = estimate(Workload(QWEN_14B), hw)
    assert not full.fits and full.cpu_layers == 0


def test_layers_left_on_the_host_run_at_the_hosts_speed() -> None:
    slow = Hardware.of(GPU("P104-100", vram_gib=8), host_bandwidth_gbs=10, host_threads=2)
    fast = replace(slow, host_bandwidth_gbs=80, host_threads=16)
    work = Workload(QWEN_14B, gpu_layers=30)
    assert estimate(work, fast).decode_tokens_per_s > 1.5 * estimate(work, slow).decode_tokens_per_s


# ------------------------------------------------------------------------------------- CPU runtime


def test_cpu_runtime_checks_host_ram_not_vram() -> None:
    tiny_gpu = GPU("GTX 1050")  # 2 GB: irrelevant to the CPU runtime
    work = Workload(LLAMA_8B, runtime="llama.cpp-cpu", context=4096)
    small = estimate(work, Hardware.of(tiny_gpu, host_ram_gib=4))
    big = estimate(work, Hardware.of(tiny_gpu, host_ram_gib=32))
    assert not small.fits and "host RAM" in small.reason
    assert big.fits and "host RAM" in big.reason
    assert big.memory.per_gpu == (0.0,)


def test_cpu_runtime_runs_at_host_memory_bandwidth() -> None:
    work = Workload(LLAMA_8B, runtime="llama.cpp-cpu", context=4096)
    gpu = GPU("RTX 3090")
    slow = estimate(work, Hardware.of(gpu, host_ram_gib=32, host_bandwidth_gbs=20, host_threads=32))
    fast = estimate(work, Hardware.of(gpu, host_ram_gib=32, host_bandwidth_gbs=80, host_threads=32))
    assert fast.decode_tokens_per_s > 2.5 * slow.decode_tokens_per_s
    assert slow.decode_tokens_per_s < 5  # nowhere near the 3090's 936 GB/s
    assert slow.provenance.arch_class == "host-cpu/cpu" and slow.bottleneck == "host memory bandwidth"


# ------------------------------------------------------------------------------ correction, provenance


@given(st.lists(st.floats(0.2, 5.0), max_size=8))
def test_no_rows_give_the_prior_and_rows_pull_toward_their_mean(ratios: list[float]) -> None:
    combined = combine_ratios(ratios)
    if not ratios:
        assert combined == 1.0
    else:
        assert min(1.0, *ratios) - 1e-9 <= combined <= max(1.0, *ratios) + 1e-9


@given(st.floats(5.0, 200.0))
def test_a_measured_point_is_reproduced_through_the_model(measured: float) -> None:
    work, hw = Workload(LLAMA_8B), Hardware.of(GPU("RTX 3060 12GB"))
    ratio = solve_ratio(lambda c: estimate(work, hw, Correction(decode=c)).decode_tokens_per_s, measured)
    got = estimate(work, hw, Correction(decode=ratio)).decode_tokens_per_s
    assert got == pytest.approx(measured, rel=1e-3) or ratio in (0.05, 20.0)


def test_more_rows_shrink_the_interval() -> None:
    spreads = [corrected_spread(40.0, n) for n in range(0, 10)]
    assert spreads[0] == 40.0 and spreads == sorted(spreads, reverse=True) and spreads[-1] >= 10.0
    work, hw = Workload(LLAMA_8B), Hardware.of(GPU("RX 580 8GB"))
    widths = []
    for rows in (0, 1, 4):
        p = estimate(work, hw, Correction(decode=0.9, rows=rows) if rows else None).provenance
        widths.append(p.interval[1] / p.interval[0])
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]
    assert estimate(work, hw, Correction(decode=0.9, rows=2)).provenance.decode == "calibrated"


def test_provenance_json_has_the_interface_fields() -> None:
    data = estimate(Workload(LLAMA_8B), Hardware.of(GPU("RX 580 8GB"))).to_json()["provenance"]
    assert set(data) >= {
        "decode",
        "prefill",
        "memory",
        "rows",
        "interval",
        "arch_class",
        "spread_pct",
        "uncalibrated",
    }
    assert data["decode"] == "prior" and len(data["interval"]) == 2
    with pytest.raises(ValueError):
        Provenance("guessed", "prior", "prior", 0, (1.0, 2.0), "x", 10.0, True)  # type: ignore[arg-type]


def test_estimate_cli_prints_provenance_and_takes_vram_and_gpu_layers() -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["estimate", "--gpu", "RX 580 8GB", "--model", "llama-3.1-8b"])
    assert out.exit_code == 0 and "prior: polaris/vulkan" in out.output
    out = runner.invoke(
        app,
        [
            "estimate",
            "--gpu",
            "P104-100",
            "--vram",
            "8",
            "--model",
            "qwen3-14b",
            "--gpu-layers",
            "auto",
            "--json",
        ],
    )
    data = json.loads(out.output)
    assert data["vram_gib"] == 8 and data["cpu_layers"] > 0 and data["provenance"]["decode"] == "prior"
    out = runner.invoke(
        app, ["estimate", "--gpu", "CMP 50HX", "--vram", "16", "--model", "qwen3-14b", "--json"]
    )
    assert json.loads(out.output)["vram_gib"] == 16  # no 16 GB variant: the card with its VRAM replaced
    bad = runner.invoke(app, ["estimate", "--gpu", "RX 580", "--model", "qwen3-14b", "--gpu-layers", "many"])
    assert bad.exit_code == 2 and "gpu_layers" in bad.output


def test_partial_offload_checks_the_host_ram_its_layers_need() -> None:
    gpu = GPU("P104-100", vram_gib=8)
    work = Workload(QWEN_14B, gpu_layers=10, context=4096)
    small = estimate(work, Hardware.of(gpu, host_ram_gib=2))
    big = estimate(work, Hardware.of(gpu, host_ram_gib=16))
    assert not small.fits and "host RAM" in small.reason
    assert big.fits and big.memory.host_ram > 4  # 30 layers of a 14B model live on the host
