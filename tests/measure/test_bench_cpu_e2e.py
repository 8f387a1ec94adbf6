"""The measure → calibrate loop on the CPU with the real llama-bench (slow).

`rigshift bench --runtime llama.cpp-cpu` measures Llama 3.2 1B shapes in Q4_0, Q4_K_M and Q8_0
(pp64, tg32) and stores them; then `rigshift estimate --runtime llama.cpp-cpu` for two other
model shapes must land within 15% of what llama-bench measures for them. One thread: this
machine's 2 cores are shared, and llama.cpp's spinning thread pool collapses under contention
(docs/benchmarks.md has the figures and the commands).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rigshift.catalog.models import model_catalog
from rigshift.errors import EnvironmentProblem
from rigshift.measure.formats import parse_bench_text
from rigshift.measure.runner import find_llama_bench
from rigshift.measure.zero_models import write_zero_model, zero_model_path


def _llama_bench() -> Path | None:
    try:
        return find_llama_bench()
    except EnvironmentProblem:
        return None


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        _llama_bench() is None,
        reason="llama-bench not found: run scripts/build-llama-bench (or set RIGSHIFT_LLAMA_BENCH)",
    ),
]

OTHER_SHAPES = (("qwen3-0.6b", "Q4_K_M"), ("qwen2.5-1.5b", "Q4_0"))
TOLERANCE = 0.15


def rigshift(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rigshift.cli.app", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_bench_then_estimate_other_shapes_within_15_percent(tmp_path):
    db = str(tmp_path / "bench.db")
    started = time.monotonic()
    bench = rigshift("bench", "--runtime", "llama.cpp-cpu", "--threads", "1", "--db", db, "--json")
    elapsed = time.monotonic() - started
    assert bench.returncode == 0, bench.stderr
    rows = json.loads(bench.stdout)
    assert {(r["model_key"], r["quant"], r["test"]) for r in rows} == {
        ("llama-3.2-1b", q, t) for q in ("Q4_0", "Q4_K_M", "Q8_0") for t in ("pp64", "tg32")
    }
    assert all(
        r["card_key"] == "host-cpu" and r["runtime_build"] and r["gpu_memory_used_gib"] > 0.3 for r in rows
    )
    assert "llama-bench llama-3.2-1b Q4_0" in bench.stderr  # progress
    print(f"\nrigshift bench: {elapsed:.0f} s")

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rigshift" / "bench-models"
    failures = []
    for model_key, quant in OTHER_SHAPES:
        path = write_zero_model(
            zero_model_path(cache, model_catalog().get(model_key), quant),
            model_catalog().get(model_key),
            quant,
        )
        out = subprocess.run(
            [str(_llama_bench()), "-m", str(path), "-p", "64", "-n", "32", "-r", "3", "-t", "1", "-o", "jsonl"],
            capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
        measured = {r.test: r.avg_ts for r in parse_bench_text(out.stdout, "llama-bench")[0]}
        est = rigshift(
            "estimate", "--gpu", "RTX 3060 12GB", "--runtime", "llama.cpp-cpu", "--model", model_key,
            "--quant", quant, "--prompt", "64", "--context", "96", "--host-threads", "1", "--db", db, "--json",
        )  # fmt: skip
        assert est.returncode == 0, est.stderr
        estimate = json.loads(est.stdout)
        assert estimate["provenance"]["decode"] == "calibrated" and estimate["provenance"]["rows"] >= 3
        for test, got in (
            ("tg32", estimate["decode_tokens_per_s"]),
            ("pp64", estimate["prefill_tokens_per_s"]),
        ):
            error = got / measured[test] - 1
            print(
                f"{model_key} {quant} {test}: measured {measured[test]:.2f}, estimated {got:.2f} ({error:+.0%})"
            )
            if abs(error) > TOLERANCE:
                failures.append(f"{model_key} {quant} {test}: {error:+.0%}")
    assert not failures, failures
