"""The decision's input digest: a SHA-256 over its inputs, each in a canonical JSON form.

Models (the fleet, the prices, the criteria, a plan's demand) are hashed as pydantic serialises
them (fields in declaration order, compact; the Rust serialiser: a 100,000-GPU fleet in about a
second), anything else as JSON with sorted keys. Two runs with the same fleet, prices, demand,
measurements and criteria get the same digest, and so the same decision from the cache; any
change to one of them gives another.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel


def _bytes(value: Any) -> bytes:
    if isinstance(value, BaseModel):
        return value.model_dump_json().encode("utf-8")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def inputs_digest(parts: dict[str, Any]) -> str:
    """`sha256:<hex>` over each part, in key order, as `key=<canonical JSON>` lines."""
    h = hashlib.sha256()
    for key in sorted(parts):
        h.update(key.encode("ascii") + b"=")
        h.update(_bytes(parts[key]))
        h.update(b"\n")
    return "sha256:" + h.hexdigest()
