"""History: series and their rolled-up points (history_series.py, stores/history.py).

Revision ID: 0010_history
Revises: 0008_file_store
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_history"
down_revision = "0009_responses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "history_series",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(400), nullable=False),
    )
    op.create_index("ux_history_series_name_subject", "history_series", ["name", "subject"], unique=True)
    op.create_table(
        "history_points",
        sa.Column("series_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("resolution", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("bucket", sa.Integer, primary_key=True, autoincrement=False),
        *[sa.Column(name, sa.Float, nullable=False) for name in ("n", "total", "lo", "hi")],
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("history_points")
    op.drop_table("history_series")
