"""Alerts and their history: a row fires when its (rule, subject) first holds, resolves when it
stops holding, and remembers who acknowledged it. Rows never leave here."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update

from rigshift.errors import InputError, Problem
from rigshift.server.tables import alerts


@dataclass(frozen=True)
class AlertRecord:
    id: str
    rule: str
    subject: str
    severity: str
    message: str
    fired_at: float
    last_seen_at: float
    resolved_at: float | None = None
    acked_at: float | None = None
    acked_by: str | None = None

    @property
    def active(self) -> bool:
        return self.resolved_at is None


class AlertStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def sync(self, holding: Sequence[Any], now: float) -> list[AlertRecord]:
        """Bring the open alerts in line with the conditions `holding` now (objects with rule,
        subject, severity, message): new ones fire, held ones are seen again, the rest resolve.
        One transaction; returns the open alerts, oldest first."""
        wanted = {(c.rule, c.subject): c for c in holding}
        with self.engine.begin() as conn:
            open_rows = conn.execute(
                select(alerts.c.id, alerts.c.rule, alerts.c.subject).where(alerts.c.resolved_at.is_(None))
            ).all()
            held = {(r.rule, r.subject): r.id for r in open_rows}
            gone = [{"alert_id": i} for key, i in held.items() if key not in wanted]
            seen = [
                {"alert_id": i, "message": wanted[key].message, "severity": wanted[key].severity}
                for key, i in held.items()
                if key in wanted
            ]
            by_id = alerts.c.id == bindparam("alert_id")
            # One statement each, however many alerts are open (a farm can have hundreds stale).
            if gone:
                conn.execute(update(alerts).where(by_id).values(resolved_at=now), gone)
            if seen:
                conn.execute(
                    update(alerts)
                    .where(by_id)
                    .values(last_seen_at=now, message=bindparam("message"), severity=bindparam("severity")),
                    seen,
                )
            fresh = [c for key, c in wanted.items() if key not in held]
            if fresh:
                conn.execute(
                    insert(alerts),
                    [
                        {
                            "id": "al-" + secrets.token_hex(8),
                            "rule": c.rule,
                            "subject": c.subject,
                            "severity": c.severity,
                            "message": c.message,
                            "fired_at": now,
                            "last_seen_at": now,
                        }
                        for c in fresh
                    ],
                )
        return self.active()

    def active(self) -> list[AlertRecord]:
        query = select(alerts).where(alerts.c.resolved_at.is_(None)).order_by(alerts.c.fired_at, alerts.c.id)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]

    def history(self, *, limit: int = 200, rule: str | None = None) -> list[AlertRecord]:
        """Every alert, open or resolved, newest first."""
        query = select(alerts).order_by(alerts.c.fired_at.desc(), alerts.c.id).limit(limit)
        if rule is not None:
            query = query.where(alerts.c.rule == rule)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]

    def get(self, alert_id: str) -> AlertRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
        if row is None:
            raise InputError(Problem(f"no alert {alert_id!r}", field="alert_id"))
        return _record(row)

    def acknowledge(self, alert_id: str, who: str, now: float) -> AlertRecord:
        """Mark it seen by `who`; the first acknowledgement stands (a second changes nothing)."""
        self.get(alert_id)
        with self.engine.begin() as conn:
            conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id, alerts.c.acked_at.is_(None))
                .values(acked_at=now, acked_by=who)
            )
        return self.get(alert_id)


def _record(row: Any) -> AlertRecord:
    return AlertRecord(**dict(row._mapping))
