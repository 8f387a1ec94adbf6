"""Energy over HTTP: demand-response events (stored) and the run-time loop's view (when running)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.to_thread

from rigshift.energy.service import EnergyService
from rigshift.errors import InputError
from rigshift.server.errors import BadRequest, Conflict, NotFound
from rigshift.server.stores.energy_events import EnergyEvent, EnergyEventStore


class EnergyApiService:
    def __init__(
        self, store: EnergyEventStore, clock: Callable[[], float], loop: EnergyService | None = None
    ):
        self.store = store
        self.clock = clock
        self.loop = loop

    async def status(self) -> dict[str, Any]:
        events = await anyio.to_thread.run_sync(lambda: self.store.recent(limit=50))
        sites = self.loop.snapshot()["sites"] if self.loop is not None else []
        return {
            "running": self.loop is not None,
            "sites": sites,
            "events": [e.as_json() for e in events],
        }

    async def create_event(
        self, site: str, start: float | None, end: float, shed_kw: float | None, target_kw: float | None
    ) -> EnergyEvent:
        now = self.clock()
        if self.loop is not None and site not in self.loop.sites:
            raise BadRequest(f"no site {site!r} under energy control", param="site", code="unknown_site")
        try:
            event = await anyio.to_thread.run_sync(
                lambda: self.store.create(
                    site, now if start is None else start, end, shed_kw=shed_kw, target_kw=target_kw, now=now
                )
            )
        except InputError as error:
            first = error.problems[0]
            raise BadRequest(str(error), param=first.field) from None
        if self.loop is not None:  # act now, not at the next tick: the target is 60 s away
            await anyio.to_thread.run_sync(self.loop.tick)
        return event

    async def list_events(self, site: str | None, limit: int) -> list[EnergyEvent]:
        return await anyio.to_thread.run_sync(lambda: self.store.recent(site=site, limit=limit))

    async def cancel_event(self, event_id: str) -> EnergyEvent:
        try:
            event = await anyio.to_thread.run_sync(lambda: self.store.cancel(event_id, self.clock()))
        except InputError:
            raise NotFound(f"no energy event {event_id!r}", code="event_not_found") from None
        if self.loop is not None:
            await anyio.to_thread.run_sync(self.loop.tick)
        return event

    def _loop(self) -> EnergyService:
        if self.loop is None:
            raise Conflict("this server runs no energy loop (no --energy config)", code="no_energy_loop")
        return self.loop

    def batch(self, site: str, pause: bool, reason: str) -> dict[str, Any]:
        loop = self._loop()
        try:
            loop.pause_batch(site, reason) if pause else loop.resume_batch(site)
        except InputError as error:
            raise NotFound(str(error), param="site", code="unknown_site") from None
        return {
            "site": site,
            "batch_allowed": loop.batch_allowed(site),
            "batch_paused": loop.state[site].batch_paused,
        }

    def caps(self, rig: str) -> dict[str, Any]:
        if self.loop is None:
            return {"rig": rig, "gpus": []}
        return {"rig": rig, "gpus": self.loop.caps_for_rig(rig)}
