"""The decision's input digest: a SHA-256 of its inputs in canonical JSON (sorted keys, no spaces).

Two runs with the same fleet, prices, demand, measurements and criteria get the same digest, and
so the same decision from the cache; any change to one of them gives another.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def canonical_json(parts: dict[str, Any]) -> str:
    return json.dumps(_plain(parts), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def inputs_digest(parts: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(parts).encode("ascii")).hexdigest()
