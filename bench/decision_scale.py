"""The farm decision at farm scale, against the old separate computations, and the CLI commands
that render it on the demo farm.

    python bench/decision_scale.py                     # 2,000 and 100,000 GPUs
    python bench/decision_scale.py --gpus 100000 --commands

For each demo fleet size prints the wall time of `decide` (assessment once, funnel, economics with
each class capped at its viable cards, placement of the served demand on the converted cards;
econ's sweeps off, as `assess` and `plan` run it) and the baseline: what the commands computed
separately before the decision, `rigshift assess` (assess_fleet) plus `rigshift econ
--no-sensitivity` (assess_fleet again, then analyze_fleet), each building its own world. Both start
from an empty decision cache and a full garbage collection. `--commands` also times `assess
--demo`, `econ --demo`, `plan demo.json` and `energy simulate --demo` as processes (cold start
included), each of which prints the decision.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rigshift.assess import ReadinessCriteria, assess_fleet
from rigshift.decision import compute, decide
from rigshift.econ import EstimatorThroughput, analyze_fleet
from rigshift.econ.assessed import assessed_throughput
from rigshift.econ.prices import load_inputs
from rigshift.econ.unlocks import unlock_costs
from rigshift.fleet.demo import demo_fleet
from rigshift.toolkit import default_toolkit

ROOT = Path(__file__).resolve().parents[1]


def old_separate(fleet, inputs, tools) -> None:
    """Before the decision: assess's own assessment, then econ's (again) and its analysis."""
    assess_fleet(fleet, ReadinessCriteria(), tools)
    assessment = assess_fleet(fleet, ReadinessCriteria(), tools, unlock_costs=unlock_costs(inputs))
    throughput = assessed_throughput(fleet, inputs, EstimatorThroughput(tools), assessment=assessment)
    analyze_fleet(fleet, inputs, tools.gpu_spec, throughput, with_sensitivity=False)


def timed(fn) -> tuple[float, float]:
    """(wall s, CPU s): on a shared machine the CPU time is the figure that holds still."""
    compute._CACHE.clear()
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def commands() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo.json"
        rigshift = [sys.executable, "-m", "rigshift.cli.app"]
        subprocess.run([*rigshift, "fleet", "demo", "-o", str(demo)], check=True, capture_output=True)
        runs = {
            "assess --demo": ["assess", "--demo"],
            "econ --demo": ["econ", "--demo"],
            "plan demo.json": ["plan", str(demo)],
            "energy simulate --demo": ["energy", "simulate", "--demo", "--prices",
                                       str(ROOT / "examples" / "prices" / "plain_hourly.csv")],
        }  # fmt: skip
        print(
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall time grows with it; CPU time less)"
        )
        for name, args in runs.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            done = subprocess.run([*rigshift, *args], capture_output=True, text=True)
            took = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            ok = "farm decision" in done.stdout
            print(
                f"{name:<26} wall {took:6.2f} s  CPU {cpu:5.2f} s  exit {done.returncode}  prints the decision: {ok}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gpus", type=int, nargs="*", default=[2000, 100_000])
    parser.add_argument(
        "--commands", action="store_true", help="also time the four commands on the demo farm"
    )
    args = parser.parse_args()
    inputs = load_inputs(None)
    tools = default_toolkit()
    decide(demo_fleet(scale=200), inputs, tools)  # warm-up: catalogs loaded
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"{'GPUs':>8} {'decision wall/CPU s':>20} {'old separate wall/CPU s':>24} {'converted':>10} {'placed':>7}"
    )
    for n in args.gpus:
        fleet = demo_fleet(scale=n)
        t_new = timed(lambda f=fleet: decide(f, inputs, tools))
        made = decide(fleet, inputs, tools)
        t_old = timed(lambda f=fleet: old_separate(f, inputs, tools))
        funnel = made.summary.funnel
        new = f"{t_new[0]:.2f} / {t_new[1]:.2f}"
        old = f"{t_old[0]:.2f} / {t_old[1]:.2f}"
        print(f"{n:>8,} {new:>20} {old:>24} {funnel.converted:>10,} {funnel.placed:>7,}")
    if args.commands:
        commands()


if __name__ == "__main__":
    main()
