"""`bench_card` without a llama-bench process: what it stores is attributed to the card it ran on."""

from __future__ import annotations

from pathlib import Path

import rigshift.measure.runner as runner
from rigshift.measure.formats import BenchRecord
from rigshift.measure.runner import BenchPlan, CardIdentity, bench_card


def test_each_measurement_carries_the_cards_identity_the_build_and_the_peak_memory(tmp_path, monkeypatch):
    card = CardIdentity(
        "rtx-3090", "NVIDIA GeForce RTX 3090", "llama.cpp-cuda", vram_gib=24.0, card_uuid="GPU-1",
        driver="550.54", power_limit_w=280.0, pcie_link="Gen3 x4", device_index=2,
    )  # fmt: skip
    ran = {"gpu_info": "NVIDIA GeForce RTX 3090", "backend": "CUDA"}  # as llama-bench reports them
    records = [
        BenchRecord(line=1, avg_ts=95.0, n_gen=128, **ran),
        BenchRecord(line=2, avg_ts=2900.0, n_prompt=512, **ran),
    ]
    monkeypatch.setattr(runner, "runtime_build", lambda binary: "b1234 (5678)")
    monkeypatch.setattr(runner, "write_zero_model", lambda path, spec, quant: path.write_bytes(b""))
    monkeypatch.setattr(runner, "_run_llama_bench", lambda *args: (records, 6.5))
    plan = BenchPlan((("llama-3.1-8b", "Q4_K_M"),), 512, 128, 1)

    stored = bench_card(
        card, Path("llama-bench"), plan, lambda line: None, tmp_path, rig="rig-07", now=lambda: 1.0
    )

    assert [m.tokens_per_s for m in stored] == [95.0, 2900.0]
    for m in stored:
        assert (m.card_key, m.card_name, m.vram_gib, m.card_uuid) == (
            "rtx-3090",
            card.card_name,
            24.0,
            "GPU-1",
        )
        assert (m.driver, m.power_limit_w, m.pcie_link) == ("550.54", 280.0, "Gen3 x4")
        assert (m.runtime, m.runtime_build, m.gpu_memory_used_gib, m.rig) == (
            "llama.cpp-cuda",
            "b1234 (5678)",
            6.5,
            "rig-07",
        )
