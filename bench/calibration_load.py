"""What loading stored measurements costs every `rigshift estimate` / `assess` / `econ` / `plan`.

    python bench/calibration_load.py --rows 200

Builds N measurement rows (cards of several classes, three model shapes, three quants, tg128 and
pp512, rates 0.4-1.6x the prior), then times `calibration_from` (one solve through the estimator
per row) and one `Calibration.apply`. Baseline in the same run: the same solve by plain bisection
(`bisect_log_ratio`), the first version.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from unittest import mock

from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.models import model_catalog
from rigshift.estimate import Hardware, Workload, estimate
from rigshift.estimate import calibration as cal
from rigshift.measure import calibrate
from rigshift.measure.types import Measurement

CARDS = ("radeon-rx-570-8gb", "radeon-rx-580-8gb", "tesla-p40", "p104-100", "geforce-rtx-3060-12gb")
MODELS = ("llama-3.2-3b", "llama-3.1-8b", "qwen2.5-7b")
QUANTS = ("Q4_0", "Q4_K_M", "Q8_0")


def rows(n: int) -> list[Measurement]:
    rng = random.Random(0)
    combos = list(itertools.product(CARDS, MODELS, QUANTS, ((0, 128), (512, 0))))
    out = []
    for i in range(n):
        card, model, quant, (pp, tg) = combos[i % len(combos)]
        spec = gpu_catalog().get(card)
        runtime = "llama.cpp-cuda" if spec.vendor == "nvidia" else "llama.cpp-vulkan"
        m = Measurement(card, spec.name, runtime, model, quant, pp, tg, 1.0)
        w, h = calibrate.conditions(m)
        prior = estimate(w, h)
        rate = (prior.decode_tokens_per_s if tg else prior.prefill_tokens_per_s) * rng.uniform(0.4, 1.6)
        out.append(Measurement(card, spec.name, runtime, model, quant, pp, tg, rate, rate * 0.02))
    return out


def timed(measurements: list[Measurement]) -> tuple[float, float]:
    started = time.perf_counter()
    calibration = calibrate.calibration_from(measurements)
    load = time.perf_counter() - started
    w = Workload(model_catalog().get("qwen2.5-14b"), quant="Q4_K_M", runtime="llama.cpp-vulkan")
    h = Hardware.of(gpu_catalog().get("radeon-rx-570-8gb"))
    started = time.perf_counter()
    calibration.apply(w, h)
    return load, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200)
    args = parser.parse_args()
    data = rows(args.rows)
    load, apply = timed(data)
    with mock.patch.object(calibrate, "solve_log_ratio", cal.bisect_log_ratio):
        base_load, base_apply = timed(data)
    print(
        f"{args.rows} rows: load {load * 1000:.0f} ms ({load / args.rows * 1000:.2f} ms/row), apply {apply * 1000:.1f} ms"
    )
    print(
        f"baseline (bisection): load {base_load * 1000:.0f} ms ({base_load / args.rows * 1000:.2f} ms/row), "
        f"apply {base_apply * 1000:.1f} ms; speed-up {base_load / load:.1f}x"
    )


if __name__ == "__main__":
    main()
