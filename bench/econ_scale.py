"""`rigshift econ` at farm scale, and what the caches buy the sensitivity sweeps.

    python bench/econ_scale.py                    # demo fleets of 2,000 and 10,000 GPUs
    python bench/econ_scale.py --gpus 100000

For each fleet size prints the card classes, the demand the run assumes, the wall time of the
full computation (card economics bounded by demand, the plan, and the sweeps: 6 power x 5 token
factors plus 7 demand levels, each cell a full re-plan) with the cached estimator throughput and
replica speeds asked once, the same without the sweeps, and the baseline: the same computation
asking the estimator every question again. The script asserts both give the same plan. A small
warm-up run first loads the catalogs; a full garbage collection before each timing keeps the
one-off collection of a freshly built 100k-GPU fleet (about 1.4 s on the dev machine) out of
whichever variant happens to run first.
"""

from __future__ import annotations

import argparse
import gc
import time

from rigshift.catalog.gpus import gpu_catalog
from rigshift.econ import EstimatorThroughput, analyze_fleet
from rigshift.econ.cards import InferenceRate
from rigshift.econ.prices import load_inputs
from rigshift.fleet.demo import demo_fleet


class UncachedThroughput(EstimatorThroughput):
    """Baseline: the same answers, recomputed for every question."""

    def rate(self, spec, gpus, link, model_class, ai) -> InferenceRate | None:  # type: ignore[no-untyped-def]
        self.questions = getattr(self, "questions", 0) + 1
        return self._rate(spec, gpus, link, model_class, ai)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gpus", type=int, nargs="*", default=[2000, 10000])
    args = parser.parse_args()
    inputs = load_inputs(None)
    catalog = gpu_catalog()
    print(
        f"{'GPUs':>8} {'classes':>8} {'tokens/day':>11} {'full s':>7} {'no sweep s':>11} "
        f"{'baseline s':>11} {'estimates':>10} {'speed-up':>9}"
    )
    analyze_fleet(demo_fleet(scale=200), inputs, catalog.get, EstimatorThroughput(), with_sensitivity=False)
    for n in args.gpus:
        fleet = demo_fleet(scale=n)
        gc.collect()
        t0 = time.perf_counter()
        economics = analyze_fleet(fleet, inputs, catalog.get, EstimatorThroughput())
        t_full = time.perf_counter() - t0
        gc.collect()
        t0 = time.perf_counter()
        analyze_fleet(fleet, inputs, catalog.get, EstimatorThroughput(), with_sensitivity=False)
        t_plain = time.perf_counter() - t0
        uncached = UncachedThroughput()
        gc.collect()
        t0 = time.perf_counter()
        again = analyze_fleet(fleet, inputs, catalog.get, uncached)
        t_uncached = time.perf_counter() - t0
        assert again.plan == economics.plan  # same answers either way
        print(
            f"{fleet.gpu_count:>8} {len(economics.cards):>8} {economics.tokens_per_day:>11,.0f} {t_full:>7.2f} "
            f"{t_plain:>11.2f} {t_uncached:>11.2f} {getattr(uncached, 'questions', 0):>10} "
            f"{t_uncached / t_full:>8.1f}x"
        )


if __name__ == "__main__":
    main()
