"""Alembic environment: always run on a connection the caller hands over (see `db.migrate`)."""

from __future__ import annotations

from alembic import context

from rigshift.server.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable through the alembic CLI
    raise RuntimeError("rigshift migrations run through rigshift.server.db.migrate(engine)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
