"""Batch API file bytes move to a directory on disk; the files table keeps metadata and a checksum.

The migration cannot know the server's file directory, so it moves no bytes: it makes `content`
nullable and adds `sha256`. The server's next start (`FileStore.adopt_legacy`) writes each row's
bytes to the directory, fsyncs them, and only then empties the row, so nothing stored is lost.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_file_store"
down_revision = "0007_measurement_samples"


def upgrade() -> None:
    with op.batch_alter_table("files") as files:
        files.alter_column("content", existing_type=sa.LargeBinary, nullable=True)
        files.add_column(sa.Column("sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    # Rows whose bytes moved to disk have no content to go back to: refuse rather than lose them.
    bind = op.get_bind()
    moved = bind.execute(sa.text("SELECT COUNT(*) FROM files WHERE content IS NULL")).scalar_one()
    if moved:
        raise RuntimeError(f"{moved} Batch API files live on disk only; a downgrade would lose them")
    with op.batch_alter_table("files") as files:
        files.drop_column("sha256")
        files.alter_column("content", existing_type=sa.LargeBinary, nullable=False)
