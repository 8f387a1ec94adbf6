"""The measure → calibrate loop on the CPU with the real llama-bench, loosely (slow).

`rigshift bench` measures one standard-set shape (Llama 3.2 1B Q4_0) and another shape (Qwen3
0.6B Q4_K_M) into a fleet file; calibrated on the standard shape's rows alone, `rigshift estimate
--fleet` for the other shape must say "calibrated" and land within ±50% of what was measured
(fastest repetitions on both sides). Measured in two separate bench runs, under a load average
of 15-20, it read −61.9% once. The 15% claim itself is held on
recorded runs (test_cpu_transfer_recorded.py, bench/cpu_transfer.py): measured live on a shared
2-core machine, the same comparison moved by more than 15% on other users' load alone.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from rigshift.errors import EnvironmentProblem
from rigshift.measure.runner import find_llama_bench


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

LOOSE = 0.5


def rigshift(*args: str) -> dict | list:
    done = subprocess.run(
        [sys.executable, "-m", "rigshift.cli.app", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=900,  # generous: a loaded machine slows llama-bench several times over
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_bench_then_estimate_another_shape_is_calibrated_and_near_its_measurement(tmp_path):
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({"name": "this-host"}))
    # One bench run: the standard shape and the other one back to back, on the same machine load.
    rows = rigshift(
        "bench", "--runtime", "llama.cpp-cpu", "--threads", "1", "--model", "llama-3.2-1b:Q4_0",
        "--model", "qwen3-0.6b:Q4_K_M", "--fleet", str(fleet), "--db", str(tmp_path / "bench.db"),
    )  # fmt: skip
    assert sorted((r["model_key"], r["test"]) for r in rows) == [
        ("llama-3.2-1b", "pp64"), ("llama-3.2-1b", "tg32"), ("qwen3-0.6b", "pp64"), ("qwen3-0.6b", "tg32")
    ]  # fmt: skip
    assert all(r["card_key"] == "host-cpu" and len(r["samples_tokens_per_s"]) == 3 for r in rows)
    # Calibrate on the standard shape alone; on both sides the fastest repetition counts (other
    # users' load only ever slows a CPU benchmark; as in test_cpu_transfer_recorded.py).
    data = json.loads(fleet.read_text())
    assert len(data["measurements"]) == 4
    data["measurements"] = [
        dict(m, tokens_per_s=max(m["samples_tokens_per_s"]))
        for m in data["measurements"]
        if m["model_key"] == "llama-3.2-1b"
    ]
    fleet.write_text(json.dumps(data))
    measured = {r["test"]: max(r["samples_tokens_per_s"]) for r in rows if r["model_key"] == "qwen3-0.6b"}

    estimate = rigshift(
        "estimate", "--gpu", "RTX 3060 12GB", "--runtime", "llama.cpp-cpu", "--model", "qwen3-0.6b",
        "--quant", "Q4_K_M", "--prompt", "64", "--context", "96", "--host-threads", "1",
        "--fleet", str(fleet), "--db", str(tmp_path / "none.db"),
    )  # fmt: skip
    assert isinstance(estimate, dict)
    assert estimate["provenance"]["decode"] == estimate["provenance"]["prefill"] == "calibrated"
    for test, got in (("tg32", estimate["decode_tokens_per_s"]), ("pp64", estimate["prefill_tokens_per_s"])):
        assert math.isfinite(got) and got > 0 and math.isfinite(measured[test]) and measured[test] > 0
        error = got / measured[test] - 1
        print(f"qwen3-0.6b Q4_K_M {test}: measured {measured[test]:.2f}, estimated {got:.2f} ({error:+.1%})")
        assert abs(error) <= LOOSE, f"{test}: {error:+.1%}"
