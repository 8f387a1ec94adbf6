"""The measure → calibrate loop on the CPU with the real llama-bench (slow).

`rigshift bench --runtime llama.cpp-cpu` measures the standard set (Llama 3.2 1B shapes in Q4_0,
Q4_K_M and Q8_0; pp64, tg32) *interleaved* with two other model shapes, three times (forward,
reversed, rotated), and per shape and test the fastest repetition of the nine counts (each row
carries llama-bench's per-repetition rates). The standard set's rows alone, at that rate, are
stored in a calibration database; `rigshift estimate --runtime llama.cpp-cpu` for the two other
shapes, from that database, must land within 15% of what the same runs measured for them.
Measuring both sides in the same window, and keeping the fastest repetition for both, is what
makes the comparison hold on a shared machine: other users' load slows some repetitions and
never speeds any up, where the two halves measured minutes apart saw different machines
(docs/benchmarks.md has the runs). The better of two passes' means was not enough: on this
2-core VM a Qwen3 0.6B mean (0.7 s a repetition for pp64) read 15-35% slow in both passes of two
runs (one of them in CI), and in three passes once more, while its neighbours read as usual; a
stall inside one repetition drags its pass's mean (71.7 ± 22.2 tok/s where 93 is usual). One thread: llama.cpp's spinning thread
pool collapses under contention on this machine's 2 shared cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from rigshift.errors import EnvironmentProblem
from rigshift.measure.runner import CPU_PLAN, find_llama_bench
from rigshift.measure.store import MeasurementStore
from rigshift.measure.types import Measurement
from rigshift.server.db import open_engine


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

STANDARD_SET = tuple(("llama-3.2-1b", q) for q in ("Q4_0", "Q4_K_M", "Q8_0"))  # = runner.CPU_PLAN
OTHER_SHAPES = (("qwen3-0.6b", "Q4_K_M"), ("qwen2.5-1.5b", "Q4_0"))
# Each reference shape between two calibration shapes.
INTERLEAVED = (STANDARD_SET[0], OTHER_SHAPES[0], STANDARD_SET[1], OTHER_SHAPES[1], STANDARD_SET[2])
# Three orders, so each shape runs early, late and in the middle once, beside different neighbours.
PASS_ORDERS = (INTERLEAVED, INTERLEAVED[::-1], INTERLEAVED[2:] + INTERLEAVED[:2])
TOLERANCE = 0.15


def rigshift(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rigshift.cli.app", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _bench_pass(tmp_path: Path, shapes: tuple[tuple[str, str], ...], name: str) -> list[Measurement]:
    """One `rigshift bench` run over `shapes` in that order; prints its time and the standard set's."""
    models = [arg for key, quant in shapes for arg in ("--model", f"{key}:{quant}")]
    started, started_at = time.monotonic(), time.time()
    bench = rigshift(
        "bench", "--runtime", "llama.cpp-cpu", "--threads", "1", *models, "--db", str(tmp_path / f"{name}.db"),
        "--json",
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert bench.returncode == 0, bench.stderr
    rows = [Measurement.from_json(r) for r in json.loads(bench.stdout)]
    assert sorted((r.model_key, r.quant, r.test) for r in rows) == sorted(
        (key, quant, test) for key, quant in shapes for test in ("pp64", "tg32")
    )
    assert all(
        r.card_key == "host-cpu" and r.runtime_build and (r.gpu_memory_used_gib or 0) > 0.3 for r in rows
    )
    assert "llama-bench llama-3.2-1b Q4_0" in bench.stderr  # progress
    # Each shape's llama-bench time, from the rows' stamps (taken as each process's output is read).
    ends = sorted((max(r.measured_at for r in rows if (r.model_key, r.quant) == s), s) for s in shapes)
    spans, previous = {}, started_at
    for end, shape in ends:
        spans[shape], previous = end - previous, end
    standard = sum(spans[shape] for shape in STANDARD_SET)
    print(
        f"\n{name}: rigshift bench {elapsed:.0f} s for 5 shapes; the standard set's 3: {standard:.0f} s;"
        f" load average {os.getloadavg()[0]:.1f}"
    )
    for r in rows:
        each = ", ".join(f"{v:.2f}" for v in r.samples_tokens_per_s)
        print(
            f"  {r.model_key} {r.quant} {r.test}: {r.tokens_per_s:.2f} ± {r.stddev_tokens_per_s:.2f} ({each})"
        )
    return rows


def test_bench_then_estimate_other_shapes_within_15_percent(tmp_path):
    assert tuple(CPU_PLAN.models) == STANDARD_SET and (CPU_PLAN.n_prompt, CPU_PLAN.n_gen) == (64, 32)
    # Three interleaved passes in different orders; per shape and test the fastest repetition,
    # on both sides alike: other users' load only ever slows a CPU benchmark, so the fastest of
    # nine is the nearest to this machine's own speed.
    passes = [_bench_pass(tmp_path, order, f"pass {n}") for n, order in enumerate(PASS_ORDERS, start=1)]
    best: dict[tuple[str, str, str], Measurement] = {}
    for r in (r for rows in passes for r in rows):
        assert len(r.samples_tokens_per_s) == CPU_PLAN.repetitions  # llama-bench's samples_ts, kept
        fastest = replace(r, tokens_per_s=max(r.samples_tokens_per_s))
        key = (r.model_key, r.quant, r.test)
        if key not in best or fastest.tokens_per_s > best[key].tokens_per_s:
            best[key] = fastest
    rows = list(best.values())
    print(
        "\nfastest repetitions:",
        ", ".join(f"{k[0]} {k[1]} {k[2]} {v.tokens_per_s:.2f}" for k, v in best.items()),
    )

    calibration_db = str(tmp_path / "standard-set.db")
    stored = MeasurementStore(open_engine(calibration_db)).add(
        [r for r in rows if (r.model_key, r.quant) in STANDARD_SET]
    )
    assert len(stored) == 6
    failures = []
    for model_key, quant in OTHER_SHAPES:
        measured = {r.test: r.tokens_per_s for r in rows if (r.model_key, r.quant) == (model_key, quant)}
        est = rigshift(
            "estimate", "--gpu", "RTX 3060 12GB", "--runtime", "llama.cpp-cpu", "--model", model_key,
            "--quant", quant, "--prompt", "64", "--context", "96", "--host-threads", "1",
            "--db", calibration_db, "--json",
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
                f"{model_key} {quant} {test}: measured {measured[test]:.2f}, estimated {got:.2f} ({error:+.1%})"
            )
            if abs(error) > TOLERANCE:
                failures.append(f"{model_key} {quant} {test}: {error:+.1%}")
    assert not failures, failures
