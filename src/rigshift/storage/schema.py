"""The one MetaData every table registers on (measure/store.py's, server/tables.py's), so the
Alembic migrations and the test that compares them with the tables see the whole schema."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
