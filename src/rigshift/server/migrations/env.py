"""Alembic environment: online on a connection the caller hands over (see `db.migrate`), or
offline (`db.migration_sql`) to print the DDL for a dialect, e.g. to review it for PostgreSQL."""

from __future__ import annotations

from alembic import context

from rigshift.server.tables import metadata

if context.is_offline_mode():
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = context.config.attributes.get("connection")
    if connection is None:  # pragma: no cover - only reachable through the alembic CLI
        raise RuntimeError("rigshift migrations run through rigshift.server.db.migrate(engine)")
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
