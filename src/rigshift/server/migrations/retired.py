"""Tables a migration dropped, defined once: the version that created each and the version whose
downgrade restores it must build the very same table."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_replicas() -> None:
    """`replicas` (created by 0001, dropped by 0003: the data plane's directory is the live view)."""
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
