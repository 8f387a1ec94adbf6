"""Waiting on observable state instead of sleeping a fixed time (on pytest's `pythonpath`).

A fixed sleep before an assert is a guess at how fast the machine is; on a loaded CI machine it
guesses wrong. Tests poll what they are waiting for, with a deadline generous enough that only a
real failure reaches it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 30.0  # generous: reached only when the awaited state never comes


def wait_until(
    predicate: Callable[[], T],
    what: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = 0.02,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll `predicate` until it returns something truthy, and return that; past `timeout_s`,
    fail naming `what` was awaited. Exceptions of the `ignore` types count as "not yet"."""
    deadline = time.monotonic() + timeout_s
    while True:
        value: T | None = None
        with contextlib.suppress(*ignore):
            value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)
