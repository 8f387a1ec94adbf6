"""The Responses API's stored responses (`POST /v1/responses` with `store`, the default).

Revision ID: 0009_responses
Revises: 0008_file_store
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_responses"
down_revision = "0008_file_store"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("previous_response_id", sa.String(64), nullable=True),
        sa.Column("response_json", sa.Text, nullable=False),
        sa.Column("input_json", sa.Text, nullable=False),
    )
    op.create_index("ix_responses_key_time", "responses", ["key_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_responses_key_time", "responses")
    op.drop_table("responses")
