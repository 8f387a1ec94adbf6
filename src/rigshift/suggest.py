"""Did-you-mean suggestions for names typed by people or printed by tools."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable

from rigshift.errors import Problem, UnknownNameError


def normalise(name: str) -> str:
    """Lower-case, drop punctuation and collapse spaces: 'GeForce RTX-3060 Ti' -> 'geforce rtx 3060 ti'."""
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9.]+", " ", name.lower())).strip()


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
    neighbours each cost 1, so a transposed digit ('3600' for '3060') is one typo, not two."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


MAX_SUGGESTED_NAME = 100


def did_you_mean(name: str, candidates: Iterable[str], limit: int = 5) -> tuple[str, ...]:
    """The candidates closest to `name`, best first.

    Ranked by edit distance (typos), then by difflib's similarity (shared runs), with a candidate
    that contains the name or is contained in it counting as close; candidates that share too
    little are left out.
    """
    if len(name) > MAX_SUGGESTED_NAME:
        return ()  # no name is that long; and the distances below are quadratic in the length
    by_key: dict[str, str] = {}
    for candidate in candidates:
        by_key.setdefault(normalise(candidate), candidate)
    wanted = normalise(name)
    if not wanted:
        return ()
    scored: list[tuple[int, float, float, str]] = []
    for key, original in by_key.items():
        ratio = difflib.SequenceMatcher(None, wanted, key).ratio()
        contains = wanted in key or key in wanted
        # A candidate with more words than the name ('rtx 3060 12 gb' for 'rtx 3600') is judged
        # on its leading part too, at a small penalty, so the extra words do not bury it.
        distance = min(edit_distance(wanted, key), edit_distance(wanted, key[: len(wanted)]) + 0.5)
        if ratio >= 0.5 or contains or distance <= max(2, len(wanted) // 4):
            scored.append((0 if contains else 1, distance, -ratio, original))
    scored.sort(key=lambda item: (min(item[0], item[1]), item[1], item[2]))
    return tuple(item[3] for item in scored[:limit])


def unknown_choice(
    field: str, value: str, allowed: Collection[str], what: str | None = None
) -> UnknownNameError:
    """The error for a value outside a fixed set: names the field, lists the set, suggests."""
    return UnknownNameError(
        Problem(
            f"unknown {what or field} {value!r}",
            field=field,
            expected="one of " + ", ".join(allowed),
            suggestions=did_you_mean(value, allowed),
        )
    )
