"""Parse `--since` values: an ISO date/time (UTC unless it says otherwise) or a span back from now."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rigshift.errors import InputError

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(value: str, now: float) -> float:
    """'24h', '7d', '30m' -> now minus that; '2026-01-31' or '2026-01-31T12:00' -> that instant."""
    span = _SPAN.match(value)
    if span:
        return now - float(span.group(1)) * _UNIT_S[span.group(2)]
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(
            f"cannot read {value!r} as a time",
            field="since",
            expected="a span like 24h, 7d, 90m or an ISO date like 2026-01-31 or 2026-01-31T12:00",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
