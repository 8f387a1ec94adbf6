"""The estimator's transfer claim on the CPU, from llama-bench runs: calibrated on the standard
set alone, `rigshift estimate` lands within 15% of what llama-bench measured for other shapes.

    python bench/cpu_transfer.py                          # the recorded runs (in the repository)
    python bench/cpu_transfer.py --live                   # measure now (about 5 min on 2 cores)
    python bench/cpu_transfer.py --live --nice -20 --record tests/measure/recorded/cpu_transfer/run-4

The standard set is what `rigshift bench --runtime llama.cpp-cpu` measures (zero-weight Llama 3.2
1B shapes in Q4_0, Q4_K_M and Q8_0; pp64 and tg32, 3 repetitions, one thread). The other shapes
are Qwen3 0.6B Q4_K_M (a large tied vocabulary) and Qwen2.5 1.5B Q4_0. A run is three passes of
llama-bench over the five shapes, interleaved (forward, reversed, rotated), so both sides see the
same machine; per shape and test the fastest of the nine repetitions counts, on both sides alike
(other users' load only ever slows a CPU benchmark). The standard set's rows at that rate
calibrate the estimator (`measure.calibrate.calibration_from`); the other shapes are estimated
under the conditions llama-bench measured them (`measure.calibrate.conditions`). Printed per
shape and test: measured, calibrated estimate and its error; baseline in the same run: the prior
(uncalibrated) estimate's error.

A recorded run is a folder of llama-bench's own `-o jsonl` output, one file per pass and shape
(`pass<N>-<model>-<quant>.jsonl`), and `run.json` (when, load average, llama-bench build).
`tests/measure/test_cpu_transfer_recorded.py` holds the same claim on the recorded runs in CI;
docs/benchmarks.md has the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from rigshift.catalog.models import model_catalog
from rigshift.estimate import estimate
from rigshift.measure.calibrate import calibration_from, conditions
from rigshift.measure.importer import ImportDefaults, import_files
from rigshift.measure.runner import CPU_PLAN, find_llama_bench, model_cache_dir, runtime_build
from rigshift.measure.types import Measurement
from rigshift.measure.zero_models import write_zero_model, zero_model_path

RECORDED = Path(__file__).resolve().parents[1] / "tests" / "measure" / "recorded" / "cpu_transfer"
STANDARD_SET = tuple(CPU_PLAN.models)
OTHER_SHAPES = (("qwen3-0.6b", "Q4_K_M"), ("qwen2.5-1.5b", "Q4_0"))
INTERLEAVED = (STANDARD_SET[0], OTHER_SHAPES[0], STANDARD_SET[1], OTHER_SHAPES[1], STANDARD_SET[2])
PASS_ORDERS = (INTERLEAVED, INTERLEAVED[::-1], INTERLEAVED[2:] + INTERLEAVED[:2])
CLAIM = 0.15
THREADS = 1  # one thread: llama.cpp's spinning thread pool collapses on 2 shared cores


def pass_file(run: Path, n: int, model: str, quant: str) -> Path:
    return run / f"pass{n}-{model}-{quant}.jsonl"


def record_run(run: Path, nice: int | None) -> None:
    """Three interleaved passes of the real llama-bench, each shape's output kept as it printed it.

    `nice`: run llama-bench at this niceness (-20 needs root). On a machine other users load
    (a load average of 7-9 on 2 cores), a run at the default priority read its shapes 2-5x slow,
    each by a different factor, and missed the claim by 40% on measurement noise alone; at -20
    the one-thread llama-bench keeps one core to itself, as on a quiet machine. With the kernel's
    autogroup scheduling a niceness only ranks processes of one session, so each llama-bench
    gets a session of its own and that session's autogroup gets the niceness too.
    """
    binary = find_llama_bench()
    run.mkdir(parents=True, exist_ok=True)
    started, load_before = time.time(), os.getloadavg()[0]
    for n, order in enumerate(PASS_ORDERS, start=1):
        for model_key, quant in order:
            spec = model_catalog().get(model_key)
            model = write_zero_model(zero_model_path(model_cache_dir(), spec, quant), spec, quant)
            argv = [
                *(["nice", "-n", str(nice)] if nice is not None else []),
                str(binary), "-m", str(model), "-p", str(CPU_PLAN.n_prompt), "-n", str(CPU_PLAN.n_gen),
                "-r", str(CPU_PLAN.repetitions), "-ngl", "0", "-t", str(THREADS), "-o", "jsonl",
            ]  # fmt: skip
            print(f"pass {n}: llama-bench {model_key} {quant}", file=sys.stderr)
            proc = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
            )
            if nice is not None:
                with contextlib.suppress(OSError):  # no autogroup scheduling: the niceness alone
                    Path(f"/proc/{proc.pid}/autogroup").write_text(str(nice))
            out, err = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"llama-bench exited with {proc.returncode}: {err.strip()[-500:]}")
            pass_file(run, n, model_key, quant).write_text(out)
    (run / "run.json").write_text(
        json.dumps(
            {
                "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                "seconds": round(time.time() - started),
                "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                "llama_bench": runtime_build(binary),
                "threads": THREADS,
                "niceness": nice or 0,
                "command": " ".join(
                    ["python", "bench/cpu_transfer.py", "--live"]
                    + (["--nice", str(nice)] if nice is not None else [])
                    + ["--record", str(run)]
                ),
            },
            indent=2,
        )
        + "\n"
    )


def fastest_rows(run: Path) -> dict[tuple[str, str, str], Measurement]:
    """Per (model, quant, test): the row of the run, at its fastest repetition over the passes."""
    best: dict[tuple[str, str, str], Measurement] = {}
    for model_key, quant in INTERLEAVED:
        for n in range(1, len(PASS_ORDERS) + 1):
            defaults = ImportDefaults(runtime="llama.cpp-cpu", model=model_key, quant=quant)
            for row in import_files([pass_file(run, n, model_key, quant)], defaults, measured_at=0.0):
                fastest = replace(row, tokens_per_s=max(row.samples_tokens_per_s or (row.tokens_per_s,)))
                key = (model_key, quant, row.test)
                if key not in best or fastest.tokens_per_s > best[key].tokens_per_s:
                    best[key] = fastest
    return best


def rate(m: Measurement, result: object) -> float:
    return float(getattr(result, "decode_tokens_per_s" if m.kind == "decode" else "prefill_tokens_per_s"))


def evaluate(run: Path) -> list[dict[str, object]]:
    """Per other shape and test: measured, calibrated estimate, prior estimate, and their errors."""
    rows = fastest_rows(run)
    calibration = calibration_from(
        r for (model, quant, _), r in rows.items() if (model, quant) in STANDARD_SET
    )
    out = []
    for (model, quant, test), m in rows.items():
        if (model, quant) in STANDARD_SET:
            continue
        workload, hardware = conditions(m)
        calibrated = calibration.apply(workload, hardware)
        prior = estimate(workload, hardware)
        out.append(
            {
                "shape": f"{model} {quant} {test}",
                "measured": m.tokens_per_s,
                "estimated": rate(m, calibrated),
                "provenance": calibrated.provenance.decode
                if m.kind == "decode"
                else calibrated.provenance.prefill,
                "error": rate(m, calibrated) / m.tokens_per_s - 1,
                "prior": rate(m, prior),
                "prior_error": rate(m, prior) / m.tokens_per_s - 1,
            }
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--live", action="store_true", help="run llama-bench now instead of the recorded runs"
    )
    parser.add_argument("--record", type=Path, help="with --live: keep the run in this folder")
    parser.add_argument("--runs", type=Path, default=RECORDED, help="folder of recorded runs")
    parser.add_argument("--nice", type=int, help="with --live: llama-bench's niceness (-20: root only)")
    args = parser.parse_args()
    if args.live:
        import tempfile

        run = args.record or Path(tempfile.mkdtemp(prefix="cpu-transfer-"))
        record_run(run, args.nice)
        runs = [run]
    else:
        runs = sorted(p for p in args.runs.iterdir() if (p / "run.json").is_file())
    worst = 0.0
    worst_prior = 0.0
    for run in runs:
        meta = json.loads((run / "run.json").read_text())
        print(
            f"{run.name}: recorded {meta['recorded_at']}, {meta['seconds']} s,"
            f" load average {meta['load_average_1min'][0]}-{meta['load_average_1min'][1]}, {meta['llama_bench']}"
        )
        for r in evaluate(run):
            print(
                f"  {r['shape']:<24} measured {r['measured']:7.2f}  calibrated {r['estimated']:7.2f}"
                f" ({r['error']:+6.1%}, {r['provenance']})  prior {r['prior']:7.2f} ({r['prior_error']:+6.1%})"
            )
            worst = max(worst, abs(float(r["error"])))  # type: ignore[arg-type]
            worst_prior = max(worst_prior, abs(float(r["prior_error"])))  # type: ignore[arg-type]
    verdict = "within" if worst <= CLAIM and math.isfinite(worst) else "OUTSIDE"
    print(
        f"worst |error| over {len(runs)} run(s): calibrated {worst:.1%} ({verdict} the {CLAIM:.0%} claim);"
        f" baseline, the prior alone: {worst_prior:.1%}"
    )
    return 0 if verdict == "within" else 1


if __name__ == "__main__":
    raise SystemExit(main())
