"""Regression: prompt processing does not multiply the LM head per prompt token.

llama.cpp computes logits for the last prompt token only; counting the head per token put a small,
large-vocabulary model's prefill 32% low against llama-bench on this machine's CPU
(docs/benchmarks.md, `rigshift bench`)."""

from __future__ import annotations

from dataclasses import replace

from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.models import model_catalog
from rigshift.estimate import Hardware, Workload, estimate


def test_vocabulary_size_barely_changes_prefill_but_slows_decode():
    base = model_catalog().get("qwen3-0.6b")
    small_vocab = replace(base, vocab_size=32_000)
    hardware = Hardware.of(gpu_catalog().get("geforce-rtx-3060-12gb"))
    for runtime in ("llama.cpp-cpu", "llama.cpp-cuda"):
        big = estimate(
            Workload(base, quant="Q4_K_M", runtime=runtime, context=1024, prompt_tokens=512), hardware
        )
        small = estimate(
            Workload(small_vocab, quant="Q4_K_M", runtime=runtime, context=1024, prompt_tokens=512), hardware
        )
        assert abs(big.prefill_tokens_per_s / small.prefill_tokens_per_s - 1) < 0.03, runtime
        assert big.decode_tokens_per_s < small.decode_tokens_per_s, runtime  # decode does read the head
