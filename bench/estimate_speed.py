"""Cost of one estimate, the call every later stage makes thousands of times.

    python bench/estimate_speed.py [--repeat 300]

Times `estimate()` over a mix of workloads (1 and 6 GPUs, dense, MoE and sliding-window models)
as shipped, and against the baseline of the same call with the inverse questions (max context,
max parallel) answered by plain binary search instead of the affine guess it now checks.
"""

from __future__ import annotations

import argparse
import time
from unittest import mock

from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.models import load_model
from rigshift.estimate import Hardware, PcieLink, Workload, estimate
from rigshift.estimate import estimator as estimator_module


def cases() -> list[tuple[Workload, Hardware]]:
    gpus = gpu_catalog()
    rtx3060, rx580 = gpus.resolve("RTX 3060 12GB"), gpus.resolve("RX 580 8GB")
    return [
        (Workload(load_model("llama-3.1-8b"), "Q4_K_M", context=8192), Hardware.of(rtx3060)),
        (
            Workload(load_model("qwen3-30b-a3b"), "Q4_K_M", context=8192),
            Hardware.of(rtx3060, 2, PcieLink(1, 1)),
        ),
        (Workload(load_model("gemma-2-9b"), "Q4_K_M", context=8192, parallel=4), Hardware.of(rx580)),
        (
            Workload(load_model("llama-3.1-70b"), "Q4_K_M", context=8192),
            Hardware.of(rtx3060, 6, PcieLink(1, 1)),
        ),
    ]


def per_call_us(repeat: int) -> float:
    work = cases()
    start = time.perf_counter()
    for _ in range(repeat):
        for workload, hardware in work:
            estimate(workload, hardware)
    return (time.perf_counter() - start) / (repeat * len(work)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    per_call_us(5)  # warm the catalogs and caches
    shipped = per_call_us(args.repeat)
    plain = estimator_module._largest

    def binary_search_only(fits, low, high, guess=None):  # type: ignore[no-untyped-def]
        return plain(fits, low, high, None)

    with mock.patch.object(estimator_module, "_largest", binary_search_only):
        baseline = per_call_us(args.repeat)
    print(
        f"estimate(): {shipped:.0f} µs per call as shipped; {baseline:.0f} µs with binary search only "
        f"(baseline); {baseline / shipped:.1f}× faster"
    )


if __name__ == "__main__":
    main()
