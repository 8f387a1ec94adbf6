"""Demand-response events and what each one shed, avoided and paused."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_energy_events"
down_revision = "0004_batches"


def upgrade() -> None:
    op.create_table(
        "energy_events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("site", sa.String(200), nullable=False),
        sa.Column("start_at", sa.Float, nullable=False),
        sa.Column("end_at", sa.Float, nullable=False),
        sa.Column("shed_kw", sa.Float, nullable=True),
        sa.Column("target_kw", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("cancelled_at", sa.Float, nullable=True),
        sa.Column("baseline_kw", sa.Float, nullable=True),
        sa.Column("max_kw_shed", sa.Float, nullable=False, server_default="0"),
        sa.Column("kwh_avoided", sa.Float, nullable=False, server_default="0"),
        sa.Column("under_target_after_s", sa.Float, nullable=True),
        sa.Column("paused_json", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_energy_events_site_time", "energy_events", ["site", "start_at"])


def downgrade() -> None:
    op.drop_index("ix_energy_events_site_time", table_name="energy_events")
    op.drop_table("energy_events")
