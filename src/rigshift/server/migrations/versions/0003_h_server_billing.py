"""Usage rows say who counted their tokens; the unused `replicas` table is dropped.

`tokens_source`: "backend" (the backend's usage report), "counted" (the gateway, with the backend's
tokenizer, when a stream was aborted or cut before the usage chunk) or "estimated" (no tokenizer
could answer). `replicas` was never written: the data plane's directory is the live view.

Revision ID: 0003_h_server
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_h_server"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("tokens_source", sa.String(16), nullable=False, server_default="backend"))
    op.drop_table("replicas")


def downgrade() -> None:
    op.create_table(
        "replicas",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("deployment", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("rig", sa.String(200), nullable=False),
        sa.Column("gpus", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("base_url", sa.Text, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("tokens_source")
