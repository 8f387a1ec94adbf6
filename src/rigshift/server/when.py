"""Parse `--since` values: an ISO date/time (UTC unless it says otherwise) or a span back from now."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rigshift.errors import InputError

# At most 9 digits: a span of 10^9 weeks is already beyond any date; more digits are a typo or an attack.
_SPAN = re.compile(r"\s*(\d{1,9}(?:\.\d{1,6})?)\s*([smhdw])\s*")
_EARLIEST, _LATEST = 0.0, 253402300799.0  # 1970-01-01 .. 9999-12-31 (what datetime can show)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(value: str, now: float) -> float:
    """'24h', '7d', '30m' -> now minus that; '2026-01-31' or '2026-01-31T12:00' -> that instant."""
    span = _SPAN.fullmatch(value)
    if span:
        return _bounded(now - float(span.group(1)) * _UNIT_S[span.group(2)], value)
    try:
        if len(value) > 40:
            raise ValueError("too long")
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(
            f"cannot read {value!r} as a time",
            field="since",
            expected="a span like 24h, 7d, 90m or an ISO date like 2026-01-31 or 2026-01-31T12:00",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _bounded(moment.timestamp(), value)


def _bounded(moment: float, value: str) -> float:
    if not _EARLIEST <= moment <= _LATEST:
        raise InputError(
            f"{value!r} is before 1970 or after 9999",
            field="since",
            expected="a span like 24h or 7d, or a date between 1970 and 9999",
        )
    return moment
