"""JSON as users' files should be: no NaN/Infinity, no overflowing numbers, bounded nesting."""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic_core import from_json

from rigshift.errors import InputError, Problem

_WHERE = re.compile(r"(.*?) at line (\d+) column (\d+)$")


def load_json(text: str | bytes, source: str, expected: str | None = None) -> Any:
    """Parse JSON strictly (pydantic-core's parser: fast, bounded recursion, rejects NaN and
    Infinity and lone surrogates); a number too large for a float (1e400) is refused too."""
    try:
        data = from_json(text, allow_inf_nan=False)
    except ValueError as error:
        message = str(error)
        match = _WHERE.match(message)
        detail, line = (match.group(1), match.group(2)) if match else (message, None)
        if "recursion limit" in detail:
            detail = "nested too deeply"
        raise InputError(
            Problem(
                f"not valid JSON: {detail}",
                source=source,
                location=f"line {line}" if line else None,
                expected=expected,
            )
        ) from None
    _refuse_non_finite(data, source, "$")
    return data


def _refuse_non_finite(data: Any, source: str, path: str) -> None:
    # An explicit stack: the parser already bounded the depth, this walk must not recurse either.
    stack: list[tuple[Any, str]] = [(data, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, float):
            if not math.isfinite(value):
                raise InputError(
                    Problem("number out of range", source=source, location=where, expected="a finite number")
                )
        elif isinstance(value, dict):
            stack.extend((v, f"{where}.{k}") for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(value))
