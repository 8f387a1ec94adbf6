"""Did-you-mean suggestions for names typed by people or printed by tools."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable


def normalise(name: str) -> str:
    """Lower-case, drop punctuation and collapse spaces: 'GeForce RTX-3060 Ti' -> 'geforce rtx 3060 ti'."""
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9.]+", " ", name.lower())).strip()


def did_you_mean(name: str, candidates: Iterable[str], limit: int = 5) -> tuple[str, ...]:
    """The candidates closest to `name`, best first; substring matches count as close."""
    by_key: dict[str, str] = {}
    for candidate in candidates:
        by_key.setdefault(normalise(candidate), candidate)
    wanted = normalise(name)
    close = difflib.get_close_matches(wanted, list(by_key), n=limit, cutoff=0.5)
    containing = [k for k in by_key if wanted and (wanted in k or k in wanted) and k not in close]
    ranked = close + sorted(containing, key=lambda k: abs(len(k) - len(wanted)))
    return tuple(by_key[k] for k in ranked[:limit])
