"""Usage rows say who counted their tokens; the unused `replicas` table is dropped; key limits
stored as infinity by the old admin API (`"rate_limit_rpm": 1e400`) become "no limit" (NULL).

`tokens_source`: "backend" (the backend's usage report), "counted" (the gateway, with the backend's
tokenizer, when a stream was aborted or cut before the usage chunk) or "estimated" (no tokenizer
could answer). `replicas` was never written: the data plane's directory is the live view."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rigshift.server.migrations.retired import create_replicas

revision = "0003_h_server"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("tokens_source", sa.String(16), nullable=False, server_default="backend"))
    op.drop_table("replicas")
    # inf compares greater than any number on SQLite and PostgreSQL alike; such a key made every
    # later listing answer 500. Infinity was meant as "no limit", which is NULL.
    op.execute("UPDATE api_keys SET rate_limit_rpm = NULL WHERE rate_limit_rpm > 1000000000")
    op.execute("UPDATE api_keys SET token_quota = NULL WHERE token_quota > 9007199254740992")


def downgrade() -> None:
    create_replicas()
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("tokens_source")
