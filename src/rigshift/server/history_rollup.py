"""Samples folded into the open buckets of every tier, handed to the store in pieces. Pure.

A telemetry report or a metered request adds a sample to one bucket per tier (1 min, 15 min,
1 h); `take` returns what changed since the last call and forgets it. Sums add up in the store
(a bucket written by several flushes, or across a restart, is still the whole bucket's sum).
Percentiles do not add up, so their bucket's histogram stays here until the bucket has closed,
and each flush writes the percentile of everything seen so far, replacing the stored one.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import NamedTuple

from rigshift.server.history_series import RESOLUTIONS, bucket_of

QUANTILES = {"p50": 0.5, "p95": 0.95}
_GROWTH = math.log(1.05)  # histogram bins 5% wide: a percentile is within 2.5% of the true one
_SMALLEST_S = 1e-4


class Point(NamedTuple):
    series: str
    subject: str
    resolution: int
    bucket: int
    n: float
    total: float
    lo: float
    hi: float
    replace: bool = False  # a percentile: the stored point is replaced, not added to


@dataclass
class _Histogram:
    bins: dict[int, int] = field(default_factory=dict)
    count: int = 0

    def add(self, seconds: float) -> None:
        b = int(math.log(max(seconds, _SMALLEST_S) / _SMALLEST_S) / _GROWTH)
        self.bins[b] = self.bins.get(b, 0) + 1
        self.count += 1

    def quantile(self, q: float) -> float:
        rank = q * self.count
        seen = 0
        for b in sorted(self.bins):
            seen += self.bins[b]
            if seen >= rank:
                return _SMALLEST_S * math.exp((b + 0.5) * _GROWTH)  # the bin's geometric middle
        return 0.0


Key = tuple[str, str, int, int]  # series, subject, resolution, bucket


class Rollup:
    def __init__(self) -> None:
        self._sums: dict[Key, list[float]] = {}
        self._histograms: dict[Key, _Histogram] = {}  # series here is a prefix: "model.ttft"
        self._changed: set[Key] = set()

    def add(self, series: str, subject: str, value: float, at: float) -> None:
        for resolution in RESOLUTIONS:
            self._merge((series, subject, resolution, bucket_of(at, resolution)), 1.0, value, value, value)

    def _merge(self, key: Key, n: float, total: float, lo: float, hi: float) -> None:
        acc = self._sums.get(key)
        if acc is None:
            self._sums[key] = [n, total, lo, hi]
        else:
            acc[0] += n
            acc[1] += total
            acc[2] = min(acc[2], lo)
            acc[3] = max(acc[3], hi)

    def add_duration(self, prefix: str, subject: str, seconds: float, at: float) -> None:
        """A duration for `prefix`'s percentile series (`{prefix}_p50_s`, `{prefix}_p95_s`)."""
        for resolution in RESOLUTIONS:
            key = (prefix, subject, resolution, bucket_of(at, resolution))
            self._histograms.setdefault(key, _Histogram()).add(seconds)
            self._changed.add(key)

    def take(self, now: float, resolutions: Collection[int] = RESOLUTIONS) -> list[Point]:
        """Every sum added since the last call at `resolutions` (the other tiers keep adding up),
        and the percentiles of their buckets that changed; histograms of buckets that have
        closed are dropped once written."""
        taken = [k for k in self._sums if k[2] in resolutions]
        points = []
        for key in taken:
            n, total, lo, hi = self._sums.pop(key)
            points.append(Point(*key, n, total, lo, hi))
        changed = {k for k in self._changed if k[2] in resolutions}
        for key in changed:
            prefix, subject, resolution, bucket = key
            h = self._histograms[key]
            for label, q in QUANTILES.items():
                v = h.quantile(q)
                points.append(
                    Point(
                        f"{prefix}_{label}_s", subject, resolution, bucket, h.count, v * h.count, v, v, True
                    )
                )
        self._changed -= changed
        for key in [k for k in self._histograms if k[3] + k[2] <= now and k not in self._changed]:
            del self._histograms[key]
        return points

    def give_back(self, points: list[Point]) -> None:
        """Points a failed write could not store: added back, so the next flush writes them."""
        for p in points:
            if p.replace:
                continue  # the histogram still holds them; mark its bucket to be written again
            self._merge((p.series, p.subject, p.resolution, p.bucket), p.n, p.total, p.lo, p.hi)
        for key in self._histograms:
            self._changed.add(key)
