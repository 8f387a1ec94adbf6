"""Alerts with their history, the operators' audit log, and drained rigs.

Revision ID: 0011_alerts_actions
Revises: 0008_file_store
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_alerts_actions"
down_revision = "0010_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("fired_at", sa.Float, nullable=False),
        sa.Column("last_seen_at", sa.Float, nullable=False),
        sa.Column("resolved_at", sa.Float, nullable=True),
        sa.Column("acked_at", sa.Float, nullable=True),
        sa.Column("acked_by", sa.String(200), nullable=True),
    )
    op.create_index("ix_alerts_open", "alerts", ["resolved_at", "rule", "subject"])
    op.create_index("ix_alerts_fired", "alerts", ["fired_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_key_id", sa.String(32), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
    )
    op.create_index("ix_audit_time", "audit_log", ["at"])
    op.create_table(
        "rig_drains",
        sa.Column("rig", sa.String(200), primary_key=True),
        sa.Column("drained_at", sa.Float, nullable=False),
        sa.Column("drained_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rig_drains")
    op.drop_index("ix_audit_time", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_alerts_fired", table_name="alerts")
    op.drop_index("ix_alerts_open", table_name="alerts")
    op.drop_table("alerts")
