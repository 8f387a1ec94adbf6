"""Measurements: llama-bench results per card, driver, runtime build and power limit."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_measurements"
down_revision = "0005_energy_events"


def upgrade() -> None:
    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("measured_at", sa.Float, nullable=False),
        sa.Column("card_key", sa.String(200), nullable=False),
        sa.Column("card_name", sa.String(300), nullable=False),
        sa.Column("vram_gib", sa.Float, nullable=True),
        sa.Column("card_uuid", sa.String(200), nullable=True),
        sa.Column("rig", sa.String(200), nullable=True),
        sa.Column("driver", sa.String(200), nullable=True),
        sa.Column("runtime", sa.String(32), nullable=False),
        sa.Column("runtime_build", sa.String(100), nullable=True),
        sa.Column("power_limit_w", sa.Float, nullable=True),
        sa.Column("pcie_link", sa.String(32), nullable=True),
        sa.Column("model_key", sa.String(200), nullable=False),
        sa.Column("quant", sa.String(32), nullable=False),
        sa.Column("n_prompt", sa.Integer, nullable=False),
        sa.Column("n_gen", sa.Integer, nullable=False),
        sa.Column("n_depth", sa.Integer, nullable=False),
        sa.Column("n_gpu_layers", sa.Integer, nullable=True),
        sa.Column("n_threads", sa.Integer, nullable=True),
        sa.Column("tokens_per_s", sa.Float, nullable=False),
        sa.Column("stddev_tokens_per_s", sa.Float, nullable=False),
        sa.Column("gpu_memory_used_gib", sa.Float, nullable=True),
        sa.Column("source", sa.Text, nullable=False),
    )
    op.create_index("ix_measurements_card", "measurements", ["card_key", "runtime"])


def downgrade() -> None:
    op.drop_index("ix_measurements_card", "measurements")
    op.drop_table("measurements")
