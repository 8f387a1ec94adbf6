"""Coin data: WhatToMine's coins.json (or one coin's JSON) and minerstat's coins list.

WhatToMine gives protocol figures (block time, block reward, network hashrate in H/s) and a
price in BTC (`exchange_rate`, `exchange_rate_curr`); revenue follows from first principles.
minerstat gives `reward` = coins per 1 H/s per hour and `price` in USD; rigshift turns that
into the same `Coin` shape with nethash = 1 H/s and block time = 1 hour, for which the first-
principles formula reduces to reward × H × 24 (docs/economics.md, "Mining revenue").
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rigshift.econ.inputs import Coin
from rigshift.errors import InputError, Problem
from rigshift.readers import load_json, read_text

SNAPSHOT_KEY = "_rigshift_snapshot"


def read_coins(path: Path, btc_usd: float | None = None) -> tuple[tuple[Coin, ...], dict[str, Any]]:
    """The coins in a coin-data file and its snapshot metadata (empty for files from the sites)."""
    source = str(path)
    expected = "coin data (WhatToMine or minerstat JSON)"
    return parse_coins(load_json(read_text(path, expected), source, expected), source, btc_usd)


def parse_coins(
    data: Any, source: str, btc_usd: float | None = None
) -> tuple[tuple[Coin, ...], dict[str, Any]]:
    meta: dict[str, Any] = {}
    if isinstance(data, dict) and isinstance(data.get(SNAPSHOT_KEY), dict):
        meta = data[SNAPSHOT_KEY]
        if btc_usd is None and meta.get("btc_usd") is not None:
            btc_usd = _field(meta, "btc_usd", source, f"$.{SNAPSHOT_KEY}", "the BTC price in USD")
    if isinstance(data, list):
        coins = tuple(_minerstat(entry, source, f"$[{i}]") for i, entry in enumerate(data))
    elif isinstance(data, dict) and isinstance(data.get("coins"), dict):
        coins = tuple(
            _whattomine(entry, source, f"$.coins.{name}", btc_usd) for name, entry in data["coins"].items()
        )
    elif isinstance(data, dict) and "tag" in data:
        coins = (_whattomine(data, source, "$", btc_usd),)
    else:
        raise InputError(
            Problem(
                "unrecognised coin data",
                source=source,
                location="$",
                expected='WhatToMine {"coins": {...}}, one WhatToMine coin {"tag": ...}, or a minerstat list',
            )
        )
    if not coins:
        raise InputError(Problem("the coin data lists no coins", source=source, location="$"))
    # minerstat's `reward` is per H/s per hour, not per block: no emission schedule applies to it.
    return coins, {**meta, "format": "minerstat" if isinstance(data, list) else "whattomine"}


def _field(entry: Any, name: str, source: str, where: str, expected: str = "a number") -> float:
    if not isinstance(entry, dict):
        raise InputError(Problem("not an object", source=source, location=where, expected="a coin object"))
    if name not in entry or entry[name] in (None, ""):
        raise InputError(Problem("missing", source=source, location=where, field=name, expected=expected))
    value = entry[name]
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError(value)
        # WhatToMine writes some numbers as strings ("13.0"), and some with thousands commas.
        number = float(value.replace(",", "")) if isinstance(value, str) else float(value)
        if not math.isfinite(number):
            raise ValueError(value)
        return number
    except (TypeError, ValueError, OverflowError):
        raise InputError(
            Problem(
                f"not a finite number: {str(value)[:40]!r}",
                source=source,
                location=where,
                field=name,
                expected=expected,
            )
        ) from None


def _text(entry: dict[str, Any], name: str, source: str, where: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InputError(Problem("missing", source=source, location=where, field=name, expected="a name"))
    return value.strip()


def _whattomine(entry: Any, source: str, where: str, btc_usd: float | None) -> Coin:
    block_time = _field(entry, "block_time", source, where, "seconds per block")
    reward = _field(entry, "block_reward", source, where, "coins per block")
    nethash = _field(entry, "nethash", source, where, "network hashrate in H/s")
    rate = _field(entry, "exchange_rate", source, where, "the coin's price")
    currency = str(entry.get("exchange_rate_curr") or "BTC").upper()
    if currency == "BTC":
        if btc_usd is None:
            raise InputError(
                Problem(
                    "the coin's price is in BTC and no BTC price is given",
                    source=source,
                    location=where,
                    field="exchange_rate",
                    expected="mining.btc_usd in the prices file",
                )
            )
        price = rate * btc_usd
    elif currency in ("USD", "USDT"):
        price = rate
    else:
        raise InputError(
            Problem(
                f"unsupported currency {currency!r}",
                source=source,
                location=where,
                field="exchange_rate_curr",
                expected="BTC or USD",
            )
        )
    if block_time <= 0 or nethash <= 0 or reward < 0 or not 0 <= price < math.inf:
        raise InputError(
            Problem(
                "block_time and nethash must be > 0, block_reward and price ≥ 0",
                source=source,
                location=where,
            )
        )
    return Coin(
        tag=_text(entry, "tag", source, where),
        algorithm=_text(entry, "algorithm", source, where),
        block_time_s=block_time,
        block_reward=reward,
        nethash_hs=nethash,
        price_usd=price,
    )


def _minerstat(entry: Any, source: str, where: str) -> Coin:
    reward = _field(entry, "reward", source, where, "coins per 1 H/s per hour")
    price = _field(entry, "price", source, where, "USD per coin")
    if reward < 0 or price < 0:
        raise InputError(Problem("reward and price must be ≥ 0", source=source, location=where))
    return Coin(
        tag=_text(entry, "coin", source, where),
        algorithm=_text(entry, "algorithm", source, where),
        block_time_s=3600.0,
        block_reward=reward,
        nethash_hs=1.0,
        price_usd=price,
    )
