"""Usage reports: totals per key, model or rig over a window, priced with econ's defaults."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import anyio.to_thread

from rigshift.server.metering import TokenPrices, default_prices
from rigshift.server.services.usage_report import usage_report
from rigshift.server.stores.usage import UsageStore, UsageSummary
from rigshift.server.when import parse_since


class UsageService:
    def __init__(self, store: UsageStore, clock: Callable[[], float]):
        self.store = store
        self.clock = clock

    async def summarise(
        self,
        by: str,
        since: str | None,
        *,
        key_id: str | None = None,
        price_prompt: float | None = None,
        price_completion: float | None = None,
    ) -> tuple[float | None, list[UsageSummary]]:
        """(window start, rows); `key_id` limits the report to one tenant's key."""
        return await anyio.to_thread.run_sync(
            lambda: summarise_usage(
                self.store,
                by,
                since,
                self.clock(),
                key_id=key_id,
                price_prompt=price_prompt,
                price_completion=price_completion,
            )
        )

    async def report(
        self, since: float, now: float, key_names: Mapping[str, str], *, key_id: str | None = None
    ) -> dict[str, Any]:
        """Usage and revenue by every dimension (`usage_report`), priced with econ's defaults."""
        return await anyio.to_thread.run_sync(
            lambda: usage_report(self.store, default_prices(), key_names, since=since, now=now, key_id=key_id)
        )


def summarise_usage(
    store: UsageStore,
    by: str,
    since: str | None,
    now: float,
    *,
    key_id: str | None = None,
    price_prompt: float | None = None,
    price_completion: float | None = None,
) -> tuple[float | None, list[UsageSummary]]:
    """The usage report (blocking): what the API and the CLI's local control plane both call."""
    defaults = default_prices()
    prices = TokenPrices(
        price_prompt if price_prompt is not None else defaults.prompt_usd_per_mtok,
        price_completion if price_completion is not None else defaults.completion_usd_per_mtok,
    )
    start = parse_since(since, now) if since else None
    return start, store.summarise(by, prices, since=start, key_id=key_id, now=now)
