"""Usage and revenue by key, tenant, model, GPU, replica and day, with latency percentiles.

`UsageStore.summarise` answers the CLI's one-dimension report in SQL; the console wants several
dimensions of the same window at once, so this reads the window's records once (only the columns
it needs) and folds them in Python. A tenant is a key's name (`rigshift keys create acme`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rigshift.server.metering import TokenPrices
from rigshift.server.stores.usage import UsageStore

DIMENSIONS = ("key", "tenant", "model", "gpu", "replica", "day")
RECENT_S = 60.0  # "tokens/s now" is the last minute's tokens


@dataclass
class _Group:
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    energy_wh: float = 0.0
    durations: list[float] = field(default_factory=list)
    recent_tokens: int = 0


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0-100) of an already sorted list."""
    if not values:
        return None
    rank = max(1, min(len(values), int(-(-q * len(values) // 100))))
    return values[rank - 1]


def usage_report(
    store: UsageStore,
    prices: TokenPrices,
    key_names: Mapping[str, str],
    *,
    since: float,
    now: float | None = None,
    key_id: str | None = None,
) -> dict[str, Any]:
    """Every dimension for records at or after `since` (only `key_id`'s when given)."""
    now = time.time() if now is None else now
    rows = store.report_rows(since=since, key_id=key_id)
    return fold(rows, prices, key_names, since=since, now=now)


def fold(
    rows: Iterable[Any], prices: TokenPrices, key_names: Mapping[str, str], *, since: float, now: float
) -> dict[str, Any]:
    groups: dict[str, dict[str, _Group]] = {d: {} for d in DIMENSIONS}
    total = _Group()
    for r in rows:
        day = time.strftime("%Y-%m-%d", time.gmtime(r.created_at))
        gpus = [g for g in (r.gpus or "").split(",") if g] or ["(cpu)"]
        keys = {
            "key": [r.key_id],
            "tenant": [key_names.get(r.key_id, r.key_id)],
            "model": [r.model],
            "gpu": gpus,
            "replica": [r.replica_id],
            "day": [day],
        }
        for dimension, names in keys.items():
            for name in names:
                _add(groups[dimension].setdefault(name, _Group()), r, now, share=1 / len(names))
        _add(total, r, now, share=1.0)
    return {
        "since": since,
        "until": now,
        "prices": {
            "prompt_usd_per_mtok": prices.prompt_usd_per_mtok,
            "completion_usd_per_mtok": prices.completion_usd_per_mtok,
        },
        "total": _row("all", total, prices),
        "tokens_per_s": total.recent_tokens / RECENT_S,
        **{d: [_row(name, g, prices) for name, g in sorted(groups[d].items())] for d in DIMENSIONS},
    }


def _add(g: _Group, r: Any, now: float, *, share: float) -> None:
    """A request split over several GPUs counts once per GPU with its tokens shared between them."""
    g.requests += 1
    if r.status >= 400:
        g.errors += 1
    else:
        g.durations.append(float(r.duration_ms))
    g.prompt_tokens += round(r.prompt_tokens * share)
    g.completion_tokens += round(r.completion_tokens * share)
    g.energy_wh += float(r.energy_wh) * share
    if r.created_at >= now - RECENT_S:
        g.recent_tokens += round((r.prompt_tokens + r.completion_tokens) * share)


def _row(name: str, g: _Group, prices: TokenPrices) -> dict[str, Any]:
    durations = sorted(g.durations)
    return {
        "group": name,
        "requests": g.requests,
        "errors": g.errors,
        "prompt_tokens": g.prompt_tokens,
        "completion_tokens": g.completion_tokens,
        "energy_wh": g.energy_wh,
        "revenue_usd": prices.revenue_usd(g.prompt_tokens, g.completion_tokens),
        "tokens_per_s": g.recent_tokens / RECENT_S,
        "latency_ms": {f"p{q}": percentile(durations, q) for q in (50, 95, 99)},
    }
