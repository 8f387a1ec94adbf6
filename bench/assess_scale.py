"""How long `assess_fleet` takes on 2k / 10k / 100k GPUs, against the ungrouped per-GPU loop.

    python bench/assess_scale.py [--scales 2000,10000,100000] [--repeat 3] [--baseline-sample 200]

Fleets come from `rigshift.fleet.demo.demo_fleet` (seed 0). Each scale is assessed `--repeat`
times with a fresh assessor (cold caches every time); the best and median wall times are printed,
and the least CPU time of the process (what the run costs when other jobs share the CPUs).

Baseline: the same per-GPU work with no grouping and no cache shared between GPUs — a fresh
`ProfileAssessor` per GPU, so every GPU pays its own estimator calls. It is timed on a sample of
GPUs and extrapolated linearly (it is linear by construction); it leaves out rig options and
unlock what-ifs, so it flatters the baseline.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from rigshift.assess import ReadinessCriteria, assess_fleet, default_tools
from rigshift.assess.keys import rig_keys
from rigshift.assess.profile import ProfileAssessor
from rigshift.assess.tools import AssessTools
from rigshift.fleet.demo import demo_fleet


def counting(tools: AssessTools) -> tuple[AssessTools, list[int]]:
    calls = [0]

    def estimate(workload, hardware):  # type: ignore[no-untyped-def]
        calls[0] += 1
        return tools.estimate(workload, hardware)

    return AssessTools(tools.gpu_spec, tools.model, estimate, tools.runtimes_for, tools.speed_factor), calls


def baseline_seconds_per_gpu(tools: AssessTools, sample: int) -> tuple[float, float]:
    fleet = demo_fleet(seed=0, scale=2000)
    criteria = ReadinessCriteria()
    pairs = [(rig, key) for rig in fleet.rigs for key in rig_keys(rig, criteria)]
    chosen = random.Random(0).sample(pairs, min(sample, len(pairs)))
    counted, calls = counting(tools)
    start = time.perf_counter()
    for _, key in chosen:
        ProfileAssessor(counted, criteria).profile(key)  # nothing shared with the previous GPU
    elapsed = time.perf_counter() - start
    return elapsed / len(chosen), calls[0] / len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", default="2000,10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-sample", type=int, default=200)
    args = parser.parse_args()

    start = time.perf_counter()
    tools = default_tools()
    print(f"catalogs loaded in {time.perf_counter() - start:.2f} s (once per process, not counted below)")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")

    per_gpu, calls_per_gpu = baseline_seconds_per_gpu(tools, args.baseline_sample)
    print(
        f"baseline (ungrouped, uncached, per GPU): {per_gpu * 1000:.2f} ms/GPU,"
        f" {calls_per_gpu:.1f} estimator calls/GPU (sample of {args.baseline_sample})"
    )
    print()
    print(f"{'GPUs':>8} {'rigs':>6} {'profiles':>8} {'est.calls':>9} {'best s':>7} {'median s':>8} {'cpu s':>6}"
          f" {'GPUs/s':>9} {'baseline s':>10} {'speed-up':>8}")  # fmt: skip
    for scale in (int(s) for s in args.scales.split(",")):
        fleet = demo_fleet(seed=0, scale=scale)
        times, cpu_times = [], []
        calls: list[int] = [0]
        result = None
        for _ in range(args.repeat):
            counted, calls = counting(tools)
            t0, c0 = time.perf_counter(), time.process_time()
            result = assess_fleet(fleet, tools=counted)
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
        assert result is not None
        best, median, cpu = min(times), statistics.median(times), min(cpu_times)
        gpus = fleet.gpu_count
        baseline = per_gpu * gpus
        print(
            f"{gpus:>8,} {len(fleet.rigs):>6,} {len(result.profiles):>8,} {calls[0]:>9,} {best:>7.2f} {median:>8.2f}"
            f" {cpu:>6.2f}"
            f" {gpus / best:>9,.0f} {baseline:>10.1f} {baseline / best:>7.0f}x"
        )
    print(f"\nload average {os.getloadavg()[0]:.2f} at end (other processes share these CPUs)")


if __name__ == "__main__":
    main()
