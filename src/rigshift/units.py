"""One reading of the values people type: PCIe links, token counts, and British/American spelling.

Every command and file reader goes through these, so `--pcie x1`, `--pcie "PCIe 3.0 x16"` and a
fleet file's `gen1x1` mean the same link, `--context 8k` and `context: 8192` the same context,
and a prices file may say `utilization` or `utilisation`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# "gen1x1", "Gen3 x16", "PCIe 3.0 x16", "3x4", "PCIe Gen4 x8", and without a generation "x1", "x16".
_LINK = re.compile(r"(?:pcie)?\s*(?:gen\s*)?(?:([1-6])(?:\.0)?)?\s*[x×]\s*([0-9]{1,2})", re.IGNORECASE)
LINK_EXAMPLES = 'gen1x1, gen3x16, "PCIe 3.0 x16", or x1 (the card\'s own generation)'
_LANES = (1, 2, 4, 8, 16)

# "8192", "8k", "8K", "1.5k", "128k": k is 1024 tokens, as model cards mean it.
_TOKENS = re.compile(r"(\d+(?:\.\d+)?)\s*([kKmM]?)")
TOKEN_EXAMPLES = "a whole number of tokens, or with k = 1024: 8k, 32k, 128k"

# American spellings a user may type in a file, mapped to the field names rigshift uses.
_SPELLINGS = {"utilization": "utilisation"}


def parse_link(text: str) -> tuple[int | None, int]:
    """(generation or None, lanes) from any of the spellings above; ValueError otherwise."""
    match = _LINK.fullmatch(str(text).strip())
    if not match:
        raise ValueError(text)
    lanes = int(match.group(2))
    if lanes not in _LANES:
        raise ValueError(text)
    return (int(match.group(1)) if match.group(1) else None), lanes


def parse_tokens(value: Any) -> int:
    """Tokens from 8192, "8192", "8k" (8192) or "1.5k" (1536); ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    match = _TOKENS.fullmatch(str(value).strip())
    if not match:
        raise ValueError(value)
    scale = {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2).lower()]
    number = float(match.group(1)) * scale
    if not number.is_integer():
        raise ValueError(value)
    return int(number)


SECONDS_PER_HOUR = 3600.0
TOKENS_PER_MTOK = 1e6


def usd_for_tokens(tokens: float, usd_per_mtok: float) -> float:
    """What `tokens` earn at `usd_per_mtok` dollars per million tokens: the one revenue formula
    (metering, econ, the planner and the energy policy all price tokens through it)."""
    return tokens * usd_per_mtok / TOKENS_PER_MTOK


def usd_per_hour(tokens_per_s: float, usd_per_mtok: float) -> float:
    """What `tokens_per_s` earn in an hour at `usd_per_mtok` dollars per million tokens."""
    return usd_for_tokens(tokens_per_s * SECONDS_PER_HOUR, usd_per_mtok)


def british_keys(data: Any) -> Any:
    """`data` with American spellings of known keys (utilization, rental_utilization) in British,
    at every depth; a file that has both spellings keeps both, for the validator to reject."""
    if isinstance(data, Mapping):
        out = {}
        for key, value in data.items():
            new = key
            if isinstance(key, str):
                for us, uk in _SPELLINGS.items():
                    new = new.replace(us, uk)
                if new != key and new in data:
                    new = key  # both spellings given: leave it to the validator (extra field)
            out[new] = british_keys(value)
        return out
    if isinstance(data, list):
        return [british_keys(v) for v in data]
    return data


__all__ = ["LINK_EXAMPLES", "TOKEN_EXAMPLES", "british_keys", "parse_link", "parse_tokens", "usd_per_hour"]
