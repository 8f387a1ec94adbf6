"""Stored Responses API responses (`store: true`). Rows never leave this module.

Every read and delete takes the owner's key id, so one tenant can never read, continue
(`previous_response_id`) or delete another's response: a foreign id reads exactly like a missing one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from rigshift.server.stores.usage import insert_committed
from rigshift.server.tables import responses


@dataclass(frozen=True)
class StoredResponse:
    id: str
    key_id: str
    created_at: float
    previous_response_id: str | None
    response: dict[str, Any]  # the Response object as the client got it
    input_items: list[dict[str, Any]]  # every input item of the conversation up to this turn


class ResponseStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        # SQLite: a read by primary key takes microseconds, cheaper than a worker thread's GIL waits.
        self.reads_on_loop = engine.dialect.name == "sqlite"

    def insert_many(self, stored: Sequence[StoredResponse], connection: Connection | None = None) -> None:
        """One transaction, committed when this returns; on `connection` (a writer's own) if given.

        The gateway's `UsageWriter` calls it: on SQLite inline on the event loop, since a worker
        thread waits for the GIL at every SQLite call under load."""
        rows = [
            {
                "id": s.id,
                "key_id": s.key_id,
                "created_at": s.created_at,
                "previous_response_id": s.previous_response_id,
                "response_json": json.dumps(s.response),
                "input_json": json.dumps(s.input_items),
            }
            for s in stored
        ]
        insert_committed(self.engine, responses, rows, connection)

    def get(self, key_id: str, response_id: str) -> StoredResponse | None:
        query = select(responses).where(responses.c.id == response_id, responses.c.key_id == key_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return StoredResponse(
            id=row.id,
            key_id=row.key_id,
            created_at=row.created_at,
            previous_response_id=row.previous_response_id,
            response=json.loads(row.response_json),
            input_items=json.loads(row.input_json),
        )

    def delete(self, key_id: str, response_id: str) -> bool:
        """True when the key's response existed and is gone now."""
        query = delete(responses).where(responses.c.id == response_id, responses.c.key_id == key_id)
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount == 1
