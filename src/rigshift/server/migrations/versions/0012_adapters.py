"""Tenants' LoRA adapters (the bytes live in the model store; this table is who owns what).

Revision ID: 0012_adapters
Revises: 0008_file_store
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_adapters"
down_revision = "0011_alerts_actions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adapters",
        sa.Column("id", sa.String(320), primary_key=True),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("base_model", sa.String(256), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("alpha", sa.Float, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_adapters_base", "adapters", ["base_model", "created_at"])
    op.create_index("ix_adapters_key", "adapters", ["key_id", "created_at"])


def downgrade() -> None:
    op.drop_table("adapters")
