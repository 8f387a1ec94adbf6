"""How long the demo fleet and the fleet file take at benchmark scale (100,000 GPUs).

Run: python bench/fleet_demo.py [--scale 100000] [--repeat 3]
Compares, in the same run, `demo_fleet` as shipped (cyclic GC paused while building) with the
same generator under the GC (the baseline it replaced), then times save/load of the fleet file.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path

from rigshift.fleet import demo
from rigshift.fleet.names import CatalogResolver
from rigshift.fleet.store import load_fleet, save_fleet


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        del result
        result = None
        gc.collect()
    start = time.perf_counter()
    result = fn()
    times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    resolver = CatalogResolver()
    demo.demo_fleet(scale=10, resolver=resolver)  # build the catalog once, outside the timings

    shipped, fleet = timed(lambda: demo.demo_fleet(scale=args.scale, resolver=resolver), args.repeat)
    baseline, _ = timed(lambda: demo._generate(0, args.scale, resolver), args.repeat)  # GC left on
    print(f"demo_fleet(scale={args.scale:,}): {fleet.gpu_count:,} GPUs on {len(fleet.rigs):,} rigs")
    print(f"  shipped (GC paused while building): {shipped:6.2f} s  (target < 3 s)")
    print(f"  baseline (same generator, GC on):   {baseline:6.2f} s  ({baseline / shipped:.1f}x slower)")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.json"
        save_s, _ = timed(lambda: save_fleet(fleet, path), 1)
        size_mb = path.stat().st_size / 1e6
        load_s, loaded = timed(lambda: load_fleet(path), 1)
        assert loaded == fleet
    print(f"  save_fleet (atomic, JSON {size_mb:.0f} MB): {save_s:.2f} s; load_fleet: {load_s:.2f} s")


if __name__ == "__main__":
    main()
