"""Desired replica specs, so a restarted control plane re-applies the plan instead of an empty one."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "desired_specs",
        sa.Column("replica_id", sa.String(200), primary_key=True),
        sa.Column("spec_json", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("desired_specs")
