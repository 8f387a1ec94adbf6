"""Rate limits and token quotas: pure arithmetic over times the caller passes in.

Rate limit: a token bucket per key (`rpm` requests per minute, bursts up to `rpm`), so a client
that spreads its calls never sees a 429 and one that bursts is told when to come back.
Quota: prompt + completion tokens per calendar period (UTC day or month). The gateway seeds the
used tokens from the usage table once per key and period, then adds each request's tokens, so the
check costs a dict lookup instead of a query.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, key_id: str, rpm: int | None, now: float) -> float:
        """0 when the request may go now (and counts it), else seconds until it may."""
        if rpm is None:
            return 0.0
        if rpm <= 0:
            return 60.0
        rate = rpm / 60.0
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = _Bucket(tokens=float(rpm), updated=now)
        bucket.tokens = min(float(rpm), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate


def period_bounds(now: float, period: str) -> tuple[float, float]:
    """[start, end) of the UTC calendar day or month containing `now`, in unix seconds."""
    t = datetime.fromtimestamp(now, UTC)
    if period == "day":
        start = t.replace(hour=0, minute=0, second=0, microsecond=0)
        end = datetime.fromtimestamp(start.timestamp() + 86400, UTC)
    else:
        start = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
    return start.timestamp(), end.timestamp()


@dataclass
class Reservation:
    """Tokens held for one request until it is settled with what it really used."""

    key_id: str
    period_start: float
    tokens: int
    settled: bool = False


class QuotaTracker:
    """Tokens used and reserved per (key, period start); `seed` supplies the stored count once.

    A request reserves its prompt plus its (capped) completion before it is forwarded and settles
    with the real count after, so concurrent requests cannot together pass the quota: the check
    and the reservation happen in one step on the event loop, with no await between them.
    """

    def __init__(self) -> None:
        self._used: dict[tuple[str, float], int] = {}
        self._reserved: dict[tuple[str, float], int] = {}

    def known(self, key_id: str, period_start: float) -> bool:
        return (key_id, period_start) in self._used

    def seed(self, key_id: str, period_start: float, used: int) -> None:
        self._used.setdefault((key_id, period_start), used)

    def used(self, key_id: str, period_start: float) -> int:
        return self._used.get((key_id, period_start), 0)

    def reserved(self, key_id: str, period_start: float) -> int:
        return self._reserved.get((key_id, period_start), 0)

    def remaining(self, key_id: str, period_start: float, quota: int) -> int:
        return quota - self.used(key_id, period_start) - self.reserved(key_id, period_start)

    def add(self, key_id: str, period_start: float, tokens: int) -> None:
        slot = (key_id, period_start)
        self._used[slot] = self._used.get(slot, 0) + tokens

    def reserve(self, key_id: str, period_start: float, tokens: int) -> Reservation:
        slot = (key_id, period_start)
        self._reserved[slot] = self._reserved.get(slot, 0) + tokens
        return Reservation(key_id, period_start, tokens)

    def settle(self, reservation: Reservation, used: int) -> None:
        """Release the reservation and count what the request used (once; later calls do nothing)."""
        if reservation.settled:
            return
        reservation.settled = True
        slot = (reservation.key_id, reservation.period_start)
        left = self._reserved.get(slot, 0) - reservation.tokens
        if left > 0:
            self._reserved[slot] = left
        else:
            self._reserved.pop(slot, None)
        if used:
            self.add(reservation.key_id, reservation.period_start, used)

    def exceeded(self, key_id: str, period_start: float, quota: int | None) -> bool:
        return quota is not None and self.remaining(key_id, period_start, quota) <= 0


def retry_after_header(seconds: float) -> str:
    """Retry-After takes whole seconds; round up so a client that obeys it is let through."""
    return str(max(1, math.ceil(seconds)))
