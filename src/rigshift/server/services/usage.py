"""Usage reports: totals per key, model or rig over a window, priced with econ's defaults."""

from __future__ import annotations

from collections.abc import Callable

import anyio.to_thread

from rigshift.server.metering import default_prices
from rigshift.server.usage import UsageStore, UsageSummary
from rigshift.server.when import parse_since


class UsageService:
    def __init__(self, store: UsageStore, clock: Callable[[], float]):
        self.store = store
        self.clock = clock

    async def summarise(
        self, by: str, since: str | None, *, key_id: str | None = None
    ) -> tuple[float | None, list[UsageSummary]]:
        """(window start, rows); `key_id` limits the report to one tenant's key."""
        now = self.clock()
        start = parse_since(since, now) if since else None
        rows = await anyio.to_thread.run_sync(
            lambda: self.store.summarise(by, default_prices(), since=start, key_id=key_id, now=now)
        )
        return start, rows
