"""Alerts: the rules (`alert_rules`) evaluated on the server's own state, stored with their history.

The server evaluates them every `alerts_eval_s` (app.lifespan) and when the console or the CLI
asks for the active ones, so what they see is never older than one evaluation.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import anyio.to_thread

from rigshift.errors import InputError
from rigshift.server.alert_rules import AlertLimits, conditions
from rigshift.server.errors import NotFound
from rigshift.server.fleet_view import FleetView
from rigshift.server.stores.alerts import AlertRecord, AlertStore

__all__ = ["AlertRecord", "AlertsService", "alert_json"]


def alert_json(alert: AlertRecord) -> dict[str, Any]:
    return {**alert.__dict__, "active": alert.active}


class AlertsService:
    def __init__(
        self,
        store: AlertStore,
        clock: Callable[[], float],
        limits: AlertLimits,
        *,
        view: Callable[[], FleetView] | None = None,
        usage_by_model: Callable[[float, float], Awaitable[Sequence[Mapping[str, Any]]]] | None = None,
        site_prices: Callable[[], Iterable[Mapping[str, Any]]] | None = None,
    ):
        self.store = store
        self.clock = clock
        self.limits = limits
        self.view = view  # blocking: may load the fleet file the first time
        self.usage_by_model = usage_by_model
        self.site_prices = site_prices
        self._lock = threading.Lock()  # one evaluation writes at a time: no alert fires twice

    async def evaluate(self) -> list[AlertRecord]:
        """Evaluate every rule now and store what changed; the open alerts."""
        now = self.clock()
        usage = await self.usage_by_model(now - self.limits.window_s, now) if self.usage_by_model else []
        prices = list(self.site_prices()) if self.site_prices else []
        view_of = self.view

        def run() -> list[AlertRecord]:
            view = view_of() if view_of else FleetView([], [], [])
            holding = conditions(view, usage, prices, self.limits)
            with self._lock:
                return self.store.sync(holding, self.clock())

        return await anyio.to_thread.run_sync(run)

    async def history(self, limit: int, rule: str | None = None) -> list[AlertRecord]:
        return await anyio.to_thread.run_sync(lambda: self.store.history(limit=limit, rule=rule))

    async def active(self) -> list[AlertRecord]:
        """The open alerts as stored (no evaluation: the CLI without a server reads these)."""
        return await anyio.to_thread.run_sync(self.store.active)

    async def acknowledge(self, alert_id: str, who: str) -> AlertRecord:
        try:
            return await anyio.to_thread.run_sync(lambda: self.store.acknowledge(alert_id, who, self.clock()))
        except InputError:
            raise NotFound(f"no alert {alert_id!r}", code="alert_not_found", param="alert_id") from None
