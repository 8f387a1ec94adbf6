"""Strict JSON for request bodies: what the standard says, and what backends can take.

Python's `json.loads` accepts more than JSON: `NaN`, `Infinity`, `-Infinity`, numbers that
overflow to `inf` (`1e400`), integers of any length, and lone UTF-16 surrogates (`"\\ud800"`).
llama-server's parser (nlohmann::json) rejects those with a 500, so a body the gateway forwarded
unchecked let a client make a healthy replica look broken. `loads_strict` refuses all of them,
and nesting deeper than `max_depth`, with a `BadRequest` (a 400) before anything is forwarded.
"""

from __future__ import annotations

import json
import math
from typing import Any

from rigshift.server.errors import BadRequest

MAX_DEPTH = 64  # OpenAI bodies nest a handful of levels (tools' JSON schemas a dozen or so)
# Integers must fit the 64-bit types backends parse them into (signed, or unsigned for seeds).
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def _reject_constant(name: str) -> Any:
    raise _Invalid(f"{name} is not JSON (numbers must be finite)")


class _Invalid(ValueError):
    pass


def loads_strict(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse `raw` as standard JSON, or raise `BadRequest` (code `invalid_json`) saying why."""
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except _Invalid as error:
        raise _error(str(error)) from None
    except RecursionError:
        raise _error(f"the JSON nests deeper than {max_depth} levels") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        raise _error(f"the body is not valid JSON: {error}") from None
    _check(value, max_depth)
    return value


def _check(root: Any, max_depth: int) -> None:
    """One pass over the parsed value: depth, finite numbers, 64-bit integers, valid Unicode."""
    stack: list[tuple[Any, int, str]] = [(root, 1, "$")]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise _error(f"{path}: number out of range (must be finite)", param=path)
        elif isinstance(value, int):
            if not _INT_MIN <= value <= _INT_MAX:
                raise _error(f"{path}: integer out of the 64-bit range", param=path)
        elif isinstance(value, dict):
            if depth > max_depth:
                raise _error(f"the JSON nests deeper than {max_depth} levels", param=path)
            for key, item in value.items():
                _check_text(key, path)
                stack.append((item, depth + 1, f"{path}.{key}" if depth < 8 else path))
        elif isinstance(value, list):
            if depth > max_depth:
                raise _error(f"the JSON nests deeper than {max_depth} levels", param=path)
            stack.extend(
                (item, depth + 1, f"{path}[{i}]" if depth < 8 else path) for i, item in enumerate(value)
            )


def _check_text(text: str, path: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _error(
            f"{path}: a string holds a lone UTF-16 surrogate (not valid Unicode)", param=path
        ) from None


def _error(message: str, *, param: str | None = None) -> BadRequest:
    return BadRequest(message, code="invalid_json", param=param)
