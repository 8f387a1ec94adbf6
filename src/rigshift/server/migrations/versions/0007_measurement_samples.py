"""Measurements keep each repetition's rate (llama-bench's samples_ts), not only the mean."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_measurement_samples"
down_revision = "0006_measurements"


def upgrade() -> None:
    # Rows stored before this have none: NULL reads back as no samples.
    with op.batch_alter_table("measurements") as batch:
        batch.add_column(sa.Column("samples_tokens_per_s", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("measurements") as batch:
        batch.drop_column("samples_tokens_per_s")
