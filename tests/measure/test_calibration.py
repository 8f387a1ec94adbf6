"""Calibration math: no data gives the prior, a measured point is reproduced, more rows shrink
the interval, and a measurement informs other models through the model (not by copying)."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.models import model_catalog
from rigshift.estimate import Hardware, Workload, estimate
from rigshift.estimate.calibration import Calibration, Target, arch_class, posterior, quant_family
from rigshift.measure.calibrate import calibration_from, conditions
from rigshift.measure.types import Measurement

RX570 = gpu_catalog().get("radeon-rx-570-8gb")
VULKAN = "llama.cpp-vulkan"
CLASS = arch_class(RX570, VULKAN)


def row(tps: float, n_gen: int = 128, n_prompt: int = 0, **kw: object) -> Measurement:
    base = dict(
        card_key=RX570.key, card_name="RX 570", runtime=VULKAN, model_key="llama-3.1-8b", quant="Q4_0",
        n_prompt=n_prompt, n_gen=n_gen, tokens_per_s=tps, stddev_tokens_per_s=0.0,
    )  # fmt: skip
    return Measurement(**{**base, **kw})  # type: ignore[arg-type]


def workload(model: str = "qwen2.5-14b", quant: str = "Q4_K_M", runtime: str = VULKAN) -> Workload:
    return Workload(model_catalog().get(model), quant=quant, runtime=runtime, context=4096)


def test_no_rows_give_the_prior_unchanged_with_its_spread():
    for w in (workload(), workload("llama-3.2-1b", "Q4_0", "llama.cpp-cpu")):
        h = Hardware.of(RX570)
        prior = estimate(w, h)
        result = Calibration().apply(w, h)
        assert result == prior
        assert result.provenance.decode == "prior" and result.provenance.prefill == "prior"
        # rows of another class change nothing either
        other = calibration_from([row(5.0, card_key="tesla-p40", runtime="llama.cpp-cuda")])
        assert other.apply(w, h) == prior
    cpu = (
        Calibration().apply(workload("llama-3.2-1b", "Q4_0", "llama.cpp-cpu"), Hardware.of(RX570)).provenance
    )
    assert cpu.uncalibrated and cpu.no_published_rows  # no published CPU rows
    assert cpu.label().endswith("uncalibrated: no published rows")


@settings(max_examples=25, deadline=None)
# Up to 2× the prior: the RX 570's prior reaches ~62% of its roofline, and a rate past 1.5× the
# roofline is quarantined (test_a_row_above_the_roofline_is_quarantined...).
@given(factor=st.floats(0.2, 2.0), n_gen=st.sampled_from([16, 128, 256]))
def test_a_measured_point_is_reproduced(factor, n_gen):
    w, h = conditions(row(1.0, n_gen=n_gen))
    measured = estimate(w, h).decode_tokens_per_s * factor
    m = row(measured, n_gen=n_gen)
    result = calibration_from([m]).apply(*conditions(m))
    assert math.isclose(result.decode_tokens_per_s, measured, rel_tol=1e-5)
    assert result.provenance is not None and result.provenance.decode == "measured"
    assert result.provenance.interval[0] < measured < result.provenance.interval[1]


@settings(max_examples=20, deadline=None)
@given(log_ratios=st.lists(st.floats(-1.5, 1.0), min_size=1, max_size=8), spread=st.floats(10, 60))
def test_more_rows_never_widen_the_interval(log_ratios, spread):
    from rigshift.estimate.calibration import RatioRow

    target = Target("radeon-rx-580-8gb", CLASS, VULKAN, "qwen2.5-14b", "Q4_K_M")
    cards = ["radeon-rx-570-8gb", "radeon-rx-580-8gb", "radeon-rx-470-4gb"]
    rows = [
        RatioRow(cards[i % 3], CLASS, VULKAN, "decode", "llama-3.1-8b", "Q4_0", r, 0.05)
        for i, r in enumerate(log_ratios)
    ]
    sds = [posterior(rows[:n], target, "decode", spread).sd for n in range(len(rows) + 1)]
    assert sds[0] == posterior([], target, "decode", spread).sd
    assert all(later <= earlier + 1e-12 for earlier, later in itertools.pairwise(sds))
    assert sds[-1] < sds[0]


def test_an_8b_q4_0_rate_informs_14b_q4_k_m_through_the_model_not_by_copying():
    w8, h = conditions(row(1.0))
    prior_8b = estimate(w8, h).decode_tokens_per_s
    measured = prior_8b * 0.4  # the card runs at 40% of the prior on the 8B
    calibration = calibration_from([row(measured)])
    w14 = workload()
    prior_14b = estimate(w14, h).decode_tokens_per_s
    got = calibration.apply(w14, h)
    p = got.provenance
    assert p is not None and p.decode == "calibrated" and p.rows == 1
    assert p.label().startswith("calibrated (1 row, ±")
    # Pulled most of the way toward the measured ratio (another quant family: not all the way)...
    ratio = got.decode_tokens_per_s / prior_14b
    assert 0.4 < ratio < 0.55
    # ... and the 14B is slower than the 8B measurement: its own weights, not a copied rate.
    assert got.decode_tokens_per_s < measured * 0.75


def test_other_cards_of_the_class_are_pulled_less_and_other_classes_not_at_all():
    m = row(estimate(*conditions(row(1.0))).decode_tokens_per_s * 0.4)
    calibration = calibration_from([m])
    w = workload("llama-3.1-8b", "Q4_0")
    same_card = calibration.apply(w, Hardware.of(RX570)).decode_tokens_per_s
    rx580 = gpu_catalog().get("radeon-rx-580-8gb")
    sibling = calibration.apply(w, Hardware.of(rx580))
    sibling_prior = estimate(w, Hardware.of(rx580)).decode_tokens_per_s
    assert sibling.provenance is not None and sibling.provenance.decode == "calibrated"
    assert (
        same_card / estimate(w, Hardware.of(RX570)).decode_tokens_per_s
        < sibling.decode_tokens_per_s / sibling_prior
        < 1
    )
    p40 = gpu_catalog().get("tesla-p40")
    other = calibration.apply(w, Hardware.of(p40))
    assert other.decode_tokens_per_s == estimate(w, Hardware.of(p40)).decode_tokens_per_s
    assert other.provenance is not None and other.provenance.decode == "prior"


def test_prefill_rows_correct_prefill_only():
    w, h = conditions(row(1.0, n_gen=0, n_prompt=512))
    prior = estimate(w, h)
    result = calibration_from([row(prior.prefill_tokens_per_s * 2, n_gen=0, n_prompt=512)]).apply(w, h)
    assert math.isclose(result.prefill_tokens_per_s, 2 * prior.prefill_tokens_per_s, rel_tol=1e-5)
    assert result.provenance is not None and (result.provenance.prefill, result.provenance.decode) == (
        "measured",
        "prior",
    )


def test_partial_offload_and_mixed_rows_are_left_out_with_a_reason():
    c = calibration_from([row(10.0, n_gpu_layers=12), row(10.0, n_prompt=512, n_gen=128), row(10.0)])
    assert len(c.rows) == 1
    assert any("partial offload" in s for s in c.skipped) and any("mixes" in s for s in c.skipped)


def test_cpu_rows_apply_whatever_gpu_is_named():
    m = row(5.0, card_key="host-cpu", card_name="AMD EPYC", runtime="llama.cpp-cpu", model_key="llama-3.2-1b")
    c = calibration_from([m])
    w = replace(workload("llama-3.2-1b", "Q4_0", "llama.cpp-cpu"), context=80, prompt_tokens=64)
    for card in ("geforce-rtx-3060-12gb", "tesla-p40"):
        result = c.apply(w, Hardware.of(gpu_catalog().get(card)))
        assert result.provenance is not None and result.provenance.decode == "measured"
        assert "host-cpu" in result.provenance.arch_class


def test_quant_families():
    assert [quant_family(q) for q in ("Q4_0", "Q8_0", "Q4_K_M", "IQ4_XS", "F16", "GPTQ-Int4")] == [
        "legacy", "legacy", "kquant", "iquant", "float", "gptq",
    ]  # fmt: skip


def test_a_row_above_the_roofline_is_quarantined_with_a_reason_and_moves_nothing():
    """Rows stored before the roofline check, or in a fleet file, are left out of calibration
    (`skipped` says why) instead of pulling the card's class toward an impossible rate."""
    w, h = conditions(row(1.0))
    prior = estimate(w, h)
    c = calibration_from([row(10_000_000.0), row(1e9, n_gen=0, n_prompt=512)])
    assert not c.rows and len(c.skipped) == 2
    assert all("implausible" in why and "roofline" in why for why in c.skipped)
    assert c.apply(w, h) == prior


def test_every_published_single_card_rate_is_below_the_roofline():
    """The check must never refuse a real row: the published rows this repository's priors were
    fitted on and the CPU rows measured here (tests/measure/fixtures) all sit below the ceiling."""
    from rigshift.measure.importer import ImportDefaults, import_files

    fixtures = Path(__file__).parent / "fixtures"
    paths = sorted([*fixtures.glob("*published.md"), *fixtures.glob("cpu_qwen3-0.6b.json*")])
    rows = import_files(paths, ImportDefaults(), measured_at=1.0)
    assert rows and calibration_from(rows).skipped == ()
