"""Stored Responses API responses (`store: true`). Rows never leave this module.

Every read and delete takes the owner's key id, so one tenant can never read, continue
(`previous_response_id`) or delete another's response: a foreign id reads exactly like a missing one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select

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

    def save(self, stored: StoredResponse) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(responses).values(
                    id=stored.id,
                    key_id=stored.key_id,
                    created_at=stored.created_at,
                    previous_response_id=stored.previous_response_id,
                    response_json=json.dumps(stored.response),
                    input_json=json.dumps(stored.input_items),
                )
            )

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
