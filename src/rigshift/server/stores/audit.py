"""The operators' audit log (who did what, when, with what outcome) and the rigs they drained.
Rows never leave here."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from rigshift.server.tables import audit_log, rig_drains


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    actor_key_id: str | None
    action: str
    target: str
    detail: dict[str, Any]
    outcome: str

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Drain:
    rig: str
    drained_at: float
    drained_by: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class AuditLog:
    def __init__(self, engine: Engine):
        self.engine = engine

    def record(
        self,
        *,
        at: float,
        actor: str,
        actor_key_id: str | None,
        action: str,
        target: str,
        detail: dict[str, Any],
        outcome: str,
    ) -> AuditEntry:
        text = json.dumps(detail, sort_keys=True, default=str)
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(audit_log).values(
                    at=at,
                    actor=actor,
                    actor_key_id=actor_key_id,
                    action=action,
                    target=target,
                    detail=text,
                    outcome=outcome,
                )
            )
            (entry_id,) = result.inserted_primary_key or (0,)
        return AuditEntry(int(entry_id), at, actor, actor_key_id, action, target, detail, outcome)

    def finish(self, entry_id: int, outcome: str, detail: dict[str, Any]) -> None:
        """Record how an action that was started (a bench) ended."""
        with self.engine.begin() as conn:
            conn.execute(
                update(audit_log)
                .where(audit_log.c.id == entry_id)
                .values(outcome=outcome, detail=json.dumps(detail, sort_keys=True, default=str))
            )

    def recent(self, *, limit: int = 200, action: str | None = None) -> list[AuditEntry]:
        """Newest first."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        with self.engine.connect() as conn:
            return [
                AuditEntry(
                    r.id,
                    r.at,
                    r.actor,
                    r.actor_key_id,
                    r.action,
                    r.target,
                    json.loads(r.detail or "{}"),
                    r.outcome,
                )
                for r in conn.execute(query)
            ]


class DrainStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def drain(self, rig: str, *, by: str, reason: str, now: float) -> Drain:
        """Drain `rig` (draining a drained rig keeps its first record)."""
        # Drained meanwhile by another request (the insert's unique key): that drain stands.
        with contextlib.suppress(IntegrityError), self.engine.begin() as conn:
            if conn.execute(select(rig_drains.c.rig).where(rig_drains.c.rig == rig)).first() is None:
                conn.execute(insert(rig_drains).values(rig=rig, drained_at=now, drained_by=by, reason=reason))
                return Drain(rig, now, by, reason)
        with self.engine.connect() as conn:
            row = conn.execute(select(rig_drains).where(rig_drains.c.rig == rig)).one()
        return Drain(row.rig, row.drained_at, row.drained_by, row.reason)

    def undrain(self, rig: str) -> bool:
        """True when the rig was drained."""
        with self.engine.begin() as conn:
            return bool(conn.execute(delete(rig_drains).where(rig_drains.c.rig == rig)).rowcount)

    def list(self) -> list[Drain]:
        with self.engine.connect() as conn:
            return [
                Drain(r.rig, r.drained_at, r.drained_by, r.reason)
                for r in conn.execute(select(rig_drains).order_by(rig_drains.c.rig))
            ]
