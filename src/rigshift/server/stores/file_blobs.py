"""The bytes of Batch API files, on disk: one file per id in a directory of the server's settings.

A write goes to a partial file under `.partial/`, is fsynced, and is renamed into place only when
it is complete, so a reader never sees half a file and a crash leaves only a partial file, which
the next start deletes. The database keeps each file's metadata and SHA-256; the bytes live here,
so an upload never passes through a database row and a delete gives the disk space back at once.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from sqlalchemy import Engine

from rigshift.db_url import sqlite_path
from rigshift.server.stores.model_files import HashingWriter

# What a stored id may look like: nothing that could climb out of the directory.
_ID = re.compile(r"file-[0-9A-Za-z]{1,64}")
_PARTIAL = ".partial"


def files_root(configured: str | None, engine: Engine) -> Path:
    """The file directory: as configured, else `files/` beside a SQLite database, else
    `$XDG_DATA_HOME/rigshift/files` (where `rigshift server` keeps its other data)."""
    if configured:
        return Path(configured).expanduser()
    database = sqlite_path(engine.url.render_as_string(hide_password=True))
    if database is not None:
        return database.parent / "files"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "rigshift" / "files"


class BlobWriter(HashingWriter):
    """One file being written: chunks in, hashed and counted; `commit` renames it into place."""

    def __init__(self, partial: Path):
        super().__init__(partial)
        self.partial = partial

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        self.partial.unlink(missing_ok=True)


class FileBlobs:
    def __init__(self, root: Path):
        self.root = root

    def path(self, file_id: str) -> Path:
        if not _ID.fullmatch(file_id):
            raise ValueError(f"not a stored file id: {file_id!r}")
        return self.root / file_id

    def writer(self) -> BlobWriter:
        partial_dir = self.root / _PARTIAL
        partial_dir.mkdir(parents=True, exist_ok=True)
        return BlobWriter(partial_dir / f"{secrets.token_hex(8)}.part")

    def commit(self, writer: BlobWriter, file_id: str) -> Path:
        """Make the written bytes the content of `file_id` (atomic: rename within one directory tree)."""
        writer.close()
        final = self.path(file_id)
        os.replace(writer.partial, final)
        return final

    def put(self, file_id: str, content: bytes) -> str:
        """Write `content` as `file_id` in one call; returns its SHA-256 (hex)."""
        writer = self.writer()
        try:
            writer.write(content)
            self.commit(writer, file_id)
        except BaseException:
            writer.discard()
            raise
        return writer.sha256()

    def delete(self, file_id: str) -> None:
        self.path(file_id).unlink(missing_ok=True)

    def sweep_partials(self) -> int:
        """Delete what uploads cut off by a crash or a stop left behind; returns how many."""
        partial_dir = self.root / _PARTIAL
        if not partial_dir.is_dir():
            return 0
        removed = 0
        for leftover in partial_dir.iterdir():
            with contextlib.suppress(OSError):
                leftover.unlink()
                removed += 1
        return removed
