"""`rigshift econ` at farm scale, and what the estimator cache buys the sensitivity sweep.

    python bench/econ_scale.py                    # demo fleets of 2,000 and 10,000 GPUs
    python bench/econ_scale.py --gpus 100000

For each fleet size prints the card classes, the wall time of the full computation (card
economics, plan and an 18-cell sensitivity sweep, each cell a full re-plan) with the cached
estimator throughput, and the same with a baseline that calls the estimator on every question.
"""

from __future__ import annotations

import argparse
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
    print(f"{'GPUs':>8} {'classes':>8} {'cached s':>9} {'uncached s':>11} {'estimates':>10} {'speed-up':>9}")
    for n in args.gpus:
        fleet = demo_fleet(scale=n)
        cached = EstimatorThroughput()
        t0 = time.perf_counter()
        economics = analyze_fleet(fleet, inputs, catalog.get, cached)
        t_cached = time.perf_counter() - t0
        uncached = UncachedThroughput()
        t0 = time.perf_counter()
        again = analyze_fleet(fleet, inputs, catalog.get, uncached)
        t_uncached = time.perf_counter() - t0
        assert again.plan == economics.plan  # same answers either way
        print(
            f"{fleet.gpu_count:>8} {len(economics.cards):>8} {t_cached:>9.2f} {t_uncached:>11.2f} "
            f"{getattr(uncached, 'questions', 0):>10} {t_uncached / t_cached:>8.1f}x"
        )


if __name__ == "__main__":
    main()
