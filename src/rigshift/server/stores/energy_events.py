"""Demand-response events: stored when asked for, updated while they run. Rows never leave here."""

from __future__ import annotations

import json
import secrets
from typing import Any

from sqlalchemy import insert, or_, select, update

from rigshift.energy.events import EnergyEvent, validate_event
from rigshift.errors import InputError, Problem
from rigshift.server.stores import EngineStore
from rigshift.server.tables import energy_events


class EnergyEventStore(EngineStore):
    def create(
        self,
        site: str,
        start: float,
        end: float,
        *,
        shed_kw: float | None,
        target_kw: float | None,
        now: float,
    ) -> EnergyEvent:
        validate_event(site, start, end, shed_kw, target_kw)
        event = EnergyEvent(
            id="ev-" + secrets.token_hex(6),
            site=site,
            start_at=start,
            end_at=end,
            shed_kw=shed_kw,
            target_kw=target_kw,
            created_at=now,
        )
        with self.engine.begin() as conn:
            conn.execute(insert(energy_events).values(**_row(event)))
        return event

    def recent(self, *, site: str | None = None, limit: int = 100) -> list[EnergyEvent]:
        query = select(energy_events).order_by(energy_events.c.start_at.desc()).limit(limit)
        if site is not None:
            query = query.where(energy_events.c.site == site)
        with self.engine.connect() as conn:
            return [_event(r) for r in conn.execute(query)]

    def current(self, now: float) -> list[EnergyEvent]:
        """Events running now or starting later (not cancelled), soonest first."""
        query = (
            select(energy_events)
            .where(energy_events.c.end_at > now, energy_events.c.cancelled_at.is_(None))
            .order_by(energy_events.c.start_at)
        )
        with self.engine.connect() as conn:
            return [_event(r) for r in conn.execute(query)]

    def get(self, event_id: str) -> EnergyEvent:
        with self.engine.connect() as conn:
            row = conn.execute(select(energy_events).where(energy_events.c.id == event_id)).first()
        if row is None:
            raise InputError(Problem(f"no energy event {event_id!r}", field="event_id"))
        return _event(row)

    def cancel(self, event_id: str, now: float) -> EnergyEvent:
        self.get(event_id)
        with self.engine.begin() as conn:
            conn.execute(
                update(energy_events)
                .where(energy_events.c.id == event_id, or_(energy_events.c.cancelled_at.is_(None)))
                .values(cancelled_at=now)
            )
        return self.get(event_id)

    def record(self, event: EnergyEvent) -> None:
        """Save what the event has done so far (baseline, kW shed, kWh avoided, what was paused)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(energy_events)
                .where(energy_events.c.id == event.id)
                .values(
                    baseline_kw=event.baseline_kw,
                    max_kw_shed=event.max_kw_shed,
                    kwh_avoided=event.kwh_avoided,
                    under_target_after_s=event.under_target_after_s,
                    paused_json=json.dumps(event.paused, sort_keys=True),
                )
            )


def _row(event: EnergyEvent) -> dict[str, Any]:
    row = {k: v for k, v in event.__dict__.items() if k != "paused"}
    row["paused_json"] = json.dumps(event.paused, sort_keys=True)
    return row


def _event(row: Any) -> EnergyEvent:
    data = dict(row._mapping)
    paused = json.loads(data.pop("paused_json") or "{}")
    return EnergyEvent(**data, paused=paused)
