"""Decisions on the safe end: a prior's interval covers the published spread of its class, its low
end is exposed for verdicts, and `uncalibrated` says when every figure is a prior (issue 16, item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.models import load_model
from rigshift.estimate import Hardware, Workload, estimate
from rigshift.estimate.priors import prior_table
from rigshift.measure.calibrate import toolkit_of
from rigshift.measure.importer import ImportDefaults, import_files

REPO = Path(__file__).resolve().parents[2]
RX570_EXAMPLE = REPO / "examples" / "bench" / "llama-bench_rx570_vulkan.md"
GPU = gpu_catalog().resolve
LLAMA_8B = load_model("llama-3.1-8b")


def test_the_repositorys_rx570_measurement_falls_inside_the_priors_interval() -> None:
    """The shipped llama-bench example (RX 570, Vulkan, Llama 3 8B Q4_0, tg128 14.0 tok/s),
    carried to the econ workload (Q4_K_M, 8k context), must land inside the prior's interval."""
    rows = import_files([RX570_EXAMPLE], ImportDefaults(gpu="RX 570 8GB"), measured_at=1.0)
    work = Workload(LLAMA_8B, "Q4_K_M", context=8192)
    hardware = Hardware.of(GPU("RX 570 8GB"))
    calibrated = toolkit_of(rows).estimate(work, hardware)
    prior = estimate(work, hardware)
    assert calibrated.provenance.decode in ("measured", "calibrated")
    low, high = prior.provenance.interval
    assert low <= calibrated.decode_tokens_per_s <= high, (low, calibrated.decode_tokens_per_s, high)
    # the safe end a verdict reads is that low end, and it does not promise more than was measured
    assert prior.decode_tps_low == pytest.approx(low)
    assert prior.decode_tps_low <= calibrated.decode_tokens_per_s


def test_every_estimate_exposes_its_low_end_beside_the_central_figure() -> None:
    for gpu, runtime in (("RX 580 8GB", "llama.cpp-vulkan"), ("RTX 3060 12GB", None), ("RX 5700 XT", None)):
        result = estimate(Workload(LLAMA_8B, "Q4_K_M", runtime=runtime, parallel=2), Hardware.of(GPU(gpu)))
        assert 0 < result.decode_tps_low < result.decode_tokens_per_s
        assert 0 < result.decode_tps_total_low < result.decode_tokens_per_s_total
        assert 0 < result.prefill_tps_low < result.prefill_tokens_per_s
        data = result.to_json()
        assert data["decode_tps_low"] == pytest.approx(result.decode_tps_low)
        assert data["decode_tokens_per_s"] == result.decode_tokens_per_s  # the old fields stay


def test_uncalibrated_means_every_figure_is_a_prior() -> None:
    work, hardware = Workload(LLAMA_8B, "Q4_0", context=8192), Hardware.of(GPU("RX 570 8GB"))
    prior = estimate(work, hardware).provenance
    assert prior.rows > 0  # polaris/vulkan has published rows ...
    assert prior.uncalibrated  # ... yet nothing was measured on this card: every figure a prior
    rows = import_files([RX570_EXAMPLE], ImportDefaults(gpu="RX 570 8GB"), measured_at=1.0)
    assert not toolkit_of(rows).estimate(work, hardware).provenance.uncalibrated


def test_amd_vulkan_priors_do_not_lean_optimistic() -> None:
    """Published Vulkan rows of consumer Radeons (Llama 3.2 3B, 2025) ran at about half the bare
    model: no AMD Vulkan class, measured or not, keeps the bare model's factor 1.0."""
    for card in ("RX 6700 XT", "RX 7600", "RX 5700 XT", "RX Vega 64"):
        spec = GPU(card)
        prior = prior_table().lookup("llama.cpp-vulkan", _klass(spec), "kquant")
        assert prior.decode < 0.75, (card, prior)


def _klass(spec: object) -> str:
    from rigshift.estimate.priors import arch_class

    return arch_class(spec, "llama.cpp-vulkan")  # type: ignore[arg-type]


def test_econs_rate_carries_the_low_end_for_its_verdicts() -> None:
    from rigshift.econ.inputs import AiInputs, ModelClassPrice
    from rigshift.econ.throughput import EstimatorThroughput

    price = ModelClassPrice(
        name="8b", model="llama-3.1-8b", usd_per_m_input=0.03, usd_per_m_output=0.05, parallel=1, context=4096
    )
    rate = EstimatorThroughput().rate(GPU("RX 570 8GB"), 1, None, price, AiInputs())
    assert rate is not None and rate.uncalibrated
    # Every figure is a prior, so the rate econ prices IS the low end (issue 16 item 6), well below
    # the estimator's central figure for the same card and workload.
    central = estimate(
        Workload(LLAMA_8B, "Q4_K_M", context=4096, parallel=1, prompt_tokens=1000),
        Hardware.of(GPU("RX 570 8GB")),
    )
    assert rate.decode_tokens_per_s == rate.decode_tps_low == central.decode_tps_total_low
    assert 0 < rate.decode_tokens_per_s < central.decode_tokens_per_s_total
    assert rate.prefill_tokens_per_s == rate.prefill_tps_low < central.prefill_tokens_per_s
