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


# One decoder for every call: `json.loads(..., parse_constant=...)` builds a new one each time.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def loads_strict(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse `raw` as standard JSON, or raise `BadRequest` (code `invalid_json`) saying why."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw  # strict: no encoded surrogates
        value = _DECODER.decode(text)
    except _Invalid as error:
        raise _error(str(error)) from None
    except RecursionError:
        raise _error(f"the JSON nests deeper than {max_depth} levels") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        raise _error(f"the body is not valid JSON: {error}") from None
    _check(value, max_depth)
    return value


def _check(root: Any, max_depth: int) -> None:
    """One pass over the parsed value: depth, finite numbers, 64-bit integers, valid Unicode.

    The hot path keeps no JSON paths (building them costs more than the checks); when something
    is wrong, `_find` walks again to say where.
    """
    stack: list[tuple[Any, int]] = [(root, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth = pop()
        kind = type(value)
        if kind is str:
            if not value.isascii() and not _valid_text(value):
                raise _find(root, max_depth)
        elif kind is dict:
            if depth > max_depth:
                raise _find(root, max_depth)
            for key, item in value.items():
                if not key.isascii() and not _valid_text(key):
                    raise _find(root, max_depth)
                if type(item) in _CONTAINERS or type(item) is not str or not item.isascii():
                    push((item, depth + 1))
        elif kind is list:
            if depth > max_depth:
                raise _find(root, max_depth)
            for item in value:
                push((item, depth + 1))
        elif kind is float:
            if not math.isfinite(value):
                raise _find(root, max_depth)
        elif kind is int and not _INT_MIN <= value <= _INT_MAX:
            raise _find(root, max_depth)


_CONTAINERS = (dict, list)


def _valid_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _find(root: Any, max_depth: int) -> BadRequest:
    """The error for the first bad value under `root`, naming its JSON path."""
    stack: list[tuple[Any, int, str]] = [(root, 1, "$")]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            if not _valid_text(value):
                return _error(
                    f"{path}: a string holds a lone UTF-16 surrogate (not valid Unicode)", param=path
                )
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, float):
            if not math.isfinite(value):
                return _error(f"{path}: number out of range (must be finite)", param=path)
        elif isinstance(value, int):
            if not _INT_MIN <= value <= _INT_MAX:
                return _error(f"{path}: integer out of the 64-bit range", param=path)
        elif isinstance(value, dict | list):
            if depth > max_depth:
                return _error(
                    f"the JSON nests deeper than {max_depth} levels", param=path if depth < 16 else None
                )
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and not _valid_text(key):
                    return _error(
                        f"{path}: a key holds a lone UTF-16 surrogate (not valid Unicode)", param=path
                    )
                child = f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]"
                stack.append((item, depth + 1, child if depth < 16 else path))
    return _error("the JSON holds a value backends cannot read")


def _error(message: str, *, param: str | None = None) -> BadRequest:
    return BadRequest(message, code="invalid_json", param=param)
