"""Initial schema: api keys, usage records, replicas, reconciler actions, latest telemetry."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rigshift.server.migrations.retired import create_replicas

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("allowed_models", sa.Text, nullable=False),
        sa.Column("token_quota", sa.Integer, nullable=True),
        sa.Column("quota_period", sa.String(16), nullable=False),
        sa.Column("rate_limit_rpm", sa.Integer, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )
    op.create_table(
        "usage_records",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("endpoint", sa.String(32), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("replica_id", sa.String(200), nullable=False),
        sa.Column("rig", sa.String(200), nullable=False),
        sa.Column("gpus", sa.Text, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("energy_wh", sa.Float, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
    )
    op.create_index("ix_usage_key_time", "usage_records", ["key_id", "created_at"])
    op.create_index("ix_usage_time", "usage_records", ["created_at"])
    create_replicas()
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("deployment", sa.String(200), nullable=False),
        sa.Column("replica_id", sa.String(200), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_actions_time", "actions", ["created_at"])
    op.create_table(
        "telemetry_latest",
        sa.Column("rig", sa.String(200), primary_key=True),
        sa.Column("gpu_index", sa.Integer, primary_key=True),
        sa.Column("uuid", sa.String(200), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("reported_at", sa.Float, nullable=False),
        sa.Column("temperature_c", sa.Float, nullable=True),
        sa.Column("power_w", sa.Float, nullable=True),
        sa.Column("power_limit_w", sa.Float, nullable=True),
        sa.Column("utilization_pct", sa.Float, nullable=True),
        sa.Column("memory_used_gib", sa.Float, nullable=True),
        sa.Column("memory_total_gib", sa.Float, nullable=True),
        sa.Column("memory_used_by_others_gib", sa.Float, nullable=True),
    )


def downgrade() -> None:
    for table in ("telemetry_latest", "actions", "replicas", "usage_records", "api_keys"):
        op.drop_table(table)
