"""Stores for the Batch API: files, batches and per-line results. Rows never leave this module.

A file's metadata is a row; its bytes are a file in the server's file directory (`file_blobs`).

Every query that reads a file or a batch takes the owner's key id, so one tenant can never see,
download, cancel or wait on another's; a foreign id reads exactly like a missing one.

A finished line is one row in `batch_results`, written in the same transaction as the usage
record that bills it; its primary key (batch, line) makes a second write of the same line a no-op.
That is the checkpoint: a batch paused by curtailment, cancelled, or cut by a server restart
resumes with the lines that have no row, and the output holds each line exactly once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from rigshift.errors import EnvironmentProblem
from rigshift.server.stores import EngineStore
from rigshift.server.stores.file_blobs import BlobWriter, FileBlobs
from rigshift.server.stores.usage import UsageRecord
from rigshift.server.tables import batch_results, batches, files, usage_records

log = logging.getLogger(__name__)

ACTIVE_STATUSES = ("validating", "in_progress", "finalizing", "cancelling")


def new_id(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(12)}"


@dataclass(frozen=True)
class StoredFile:
    id: str
    key_id: str
    purpose: str
    filename: str
    bytes: int
    created_at: float

    def to_openai(self) -> dict[str, object]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": int(self.created_at),
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
        }


@dataclass(frozen=True)
class Batch:
    id: str
    key_id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    status: str
    total: int
    created_at: float
    expires_at: float
    completed: int = 0
    failed: int = 0
    errors: list[dict[str, object]] | None = None
    metadata: dict[str, str] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    timestamps: dict[str, float | None] = field(default_factory=dict)

    def to_openai(self) -> dict[str, object]:
        def ts(name: str) -> int | None:
            value = self.timestamps.get(name)
            return int(value) if value is not None else None

        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": int(self.created_at),
            "in_progress_at": ts("in_progress_at"),
            "expires_at": int(self.expires_at),
            "finalizing_at": ts("finalizing_at"),
            "completed_at": ts("completed_at"),
            "failed_at": ts("failed_at"),
            "expired_at": ts("expired_at"),
            "cancelling_at": ts("cancelling_at"),
            "cancelled_at": ts("cancelled_at"),
            "request_counts": {"total": self.total, "completed": self.completed, "failed": self.failed},
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class LineResult:
    line_index: int
    custom_id: str
    request_id: str
    status_code: int
    body: str
    ok: bool


_TIMESTAMPS = (
    "in_progress_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)


class FileStore:
    """Files: metadata rows in the database, bytes in `root` (`file_blobs`). The row is written
    after the bytes are in place and deleted before they are, so a row never names missing bytes."""

    def __init__(self, engine: Engine, root: Path):
        self.engine = engine
        self.blobs = FileBlobs(root)

    def commit(self, writer: BlobWriter, key_id: str, purpose: str, filename: str, now: float) -> StoredFile:
        """Move a finished upload into place and record it; on any failure nothing stays stored."""
        stored = StoredFile(new_id("file-"), key_id, purpose, filename[:255], writer.size, now)
        try:
            self.blobs.commit(writer, stored.id)
            with self.engine.begin() as conn:
                conn.execute(insert(files).values(**_row_of(stored), sha256=writer.sha256()))
        except BaseException:
            writer.discard()
            self.blobs.delete(stored.id)
            raise
        return stored

    def writer(self) -> BlobWriter:
        """A new file to write in chunks, then `commit` (or `BlobWriter.discard`)."""
        return self.blobs.writer()

    def create(self, key_id: str, purpose: str, filename: str, content: bytes, now: float) -> StoredFile:
        """A file the server writes itself in one piece."""
        writer = self.blobs.writer()
        try:
            writer.write(content)
        except BaseException:
            writer.discard()
            raise
        return self.commit(writer, key_id, purpose, filename, now)

    def get(self, key_id: str, file_id: str) -> StoredFile | None:
        query = select(*_FILE_COLUMNS).where(files.c.id == file_id, files.c.key_id == key_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return StoredFile(**row._mapping) if row is not None else None

    def path(self, key_id: str, file_id: str) -> Path | None:
        """Where the bytes of the tenant's file `file_id` are (None: no such file of theirs)."""
        return self.blobs.path(file_id) if self.get(key_id, file_id) is not None else None

    def read(self, key_id: str, file_id: str) -> bytes | None:
        """The whole file, checked against its checksum (blocking: call it from a worker thread)."""
        lines = self.lines(key_id, file_id)
        return b"".join(lines) if lines is not None else None

    def lines(self, key_id: str, file_id: str) -> Iterator[bytes] | None:
        """The file's lines as bytes, read lazily from disk (None: no such file of the key's); once
        they are all read, a checksum that does not match raises instead of passing damage on."""
        query = select(files.c.sha256).where(files.c.id == file_id, files.c.key_id == key_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return _checked_lines(self.blobs.path(file_id), row.sha256)

    def usage(self, key_id: str, purpose: str) -> tuple[int, int]:
        """(files, bytes) the key holds of `purpose`."""
        query = select(func.count(), func.coalesce(func.sum(files.c.bytes), 0)).where(
            files.c.key_id == key_id, files.c.purpose == purpose
        )
        with self.engine.connect() as conn:
            count, total = conn.execute(query).one()
        return int(count), int(total)

    def page(
        self,
        key_id: str,
        *,
        purpose: str | None = None,
        after: str | None = None,
        limit: int = 10_000,
        order: str = "desc",
    ) -> list[StoredFile]:
        """Up to `limit` of the key's files by creation time (`desc`: newest first), those after
        the file `after` (a cursor: OpenAI's `after`); `after` not one of the key's files: None."""
        newest_first = order == "desc"
        time_order = files.c.created_at.desc() if newest_first else files.c.created_at.asc()
        id_order = files.c.id.desc() if newest_first else files.c.id.asc()
        query = select(*_FILE_COLUMNS).where(files.c.key_id == key_id)
        if purpose is not None:
            query = query.where(files.c.purpose == purpose)
        with self.engine.connect() as conn:
            if after is not None:
                anchor = conn.execute(
                    select(files.c.created_at).where(files.c.id == after, files.c.key_id == key_id)
                ).scalar_one_or_none()
                if anchor is None:
                    raise LookupError(after)
                if newest_first:
                    query = query.where(
                        (files.c.created_at < anchor) | and_(files.c.created_at == anchor, files.c.id < after)
                    )
                else:
                    query = query.where(
                        (files.c.created_at > anchor) | and_(files.c.created_at == anchor, files.c.id > after)
                    )
            rows = conn.execute(query.order_by(time_order, id_order).limit(limit)).all()
        return [StoredFile(**r._mapping) for r in rows]

    def delete(self, key_id: str, file_id: str) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(files.delete().where(files.c.id == file_id, files.c.key_id == key_id))
        if result.rowcount:
            self.blobs.delete(file_id)
        return bool(result.rowcount)

    def adopt_legacy(self) -> int:
        """Move the bytes of rows written before the file directory existed (migration 0008) to
        disk, one row at a time: written and fsynced before the row is emptied. Returns how many."""
        moved = 0
        while True:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(files.c.id, files.c.content).where(files.c.content.is_not(None)).limit(1)
                ).first()
            if row is None:
                break
            digest = self.blobs.put(row.id, bytes(row.content))
            with self.engine.begin() as conn:
                conn.execute(update(files).where(files.c.id == row.id).values(content=None, sha256=digest))
            moved += 1
        if moved:
            log.info("moved %d Batch API files from the database to %s", moved, self.blobs.root)
        if moved and self.engine.dialect.name == "sqlite":
            # Give the space the rows held back to the file system (once: new bytes never go there).
            # Only a nicety: a database busy elsewhere keeps its size, and the start goes on.
            try:
                with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("VACUUM")
            except OperationalError as error:
                log.warning("could not VACUUM the database after moving files out of it: %s", error)
        return moved


def _checked_lines(path: Path, sha256: str | None) -> Iterator[bytes]:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for line in f:
            digest.update(line)
            yield line
    if sha256 is not None and digest.hexdigest() != sha256:
        raise EnvironmentProblem(f"file {path.name} on disk does not match its checksum (damaged?)")


def _row_of(stored: StoredFile) -> dict[str, Any]:
    return {
        "id": stored.id,
        "key_id": stored.key_id,
        "purpose": stored.purpose,
        "filename": stored.filename,
        "bytes": stored.bytes,
        "created_at": stored.created_at,
    }


_FILE_COLUMNS = (
    files.c.id,
    files.c.key_id,
    files.c.purpose,
    files.c.filename,
    files.c.bytes,
    files.c.created_at,
)


class BatchStore(EngineStore):
    # --- batches ---------------------------------------------------------------------------

    def create(
        self,
        *,
        key_id: str,
        endpoint: str,
        input_file_id: str,
        completion_window: str,
        status: str,
        total: int,
        now: float,
        expires_at: float,
        metadata: dict[str, str] | None,
        errors: Sequence[dict[str, object]] | None = None,
    ) -> Batch:
        batch_id = new_id("batch_")
        values: dict[str, Any] = {
            "id": batch_id,
            "key_id": key_id,
            "endpoint": endpoint,
            "input_file_id": input_file_id,
            "completion_window": completion_window,
            "status": status,
            "total": total,
            "errors_json": json.dumps(list(errors)) if errors else None,
            "metadata_json": json.dumps(metadata) if metadata else None,
            "created_at": now,
            "expires_at": expires_at,
        }
        if status == "in_progress":
            values["in_progress_at"] = now
        if status == "failed":
            values["failed_at"] = now
        with self.engine.begin() as conn:
            conn.execute(insert(batches).values(**values))
        found = self.get(key_id, batch_id)
        assert found is not None
        return found

    def get(self, key_id: str | None, batch_id: str) -> Batch | None:
        """A batch by id; `key_id` None is the runner's view (every tenant's batches)."""
        query = select(batches).where(batches.c.id == batch_id)
        if key_id is not None:
            query = query.where(batches.c.key_id == key_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            counts = self._counts(conn, [batch_id])
        return _batch_from_row(row._mapping, counts.get(batch_id, (0, 0)))

    def page(self, key_id: str, *, after: str | None = None, limit: int = 20) -> list[Batch]:
        query = select(batches).where(batches.c.key_id == key_id)
        if after is not None:
            with self.engine.connect() as conn:
                anchor = conn.execute(
                    select(batches.c.created_at).where(batches.c.id == after, batches.c.key_id == key_id)
                ).scalar_one_or_none()
            if anchor is not None:
                query = query.where(
                    (batches.c.created_at < anchor)
                    | and_(batches.c.created_at == anchor, batches.c.id > after)
                )
        query = query.order_by(batches.c.created_at.desc(), batches.c.id).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            counts = self._counts(conn, [r.id for r in rows])
        return [_batch_from_row(r._mapping, counts.get(r.id, (0, 0))) for r in rows]

    def active(self) -> list[Batch]:
        """Every batch the runner still owes work or a final state, oldest first (FIFO fairness)."""
        query = select(batches).where(batches.c.status.in_(ACTIVE_STATUSES)).order_by(batches.c.created_at)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            counts = self._counts(conn, [r.id for r in rows])
        return [_batch_from_row(r._mapping, counts.get(r.id, (0, 0))) for r in rows]

    def transition(
        self, batch_id: str, from_statuses: Sequence[str], to_status: str, now: float, **extra: Any
    ) -> bool:
        """Move a batch to `to_status` only if it is in one of `from_statuses` (compare and set)."""
        values: dict[str, Any] = {"status": to_status, **extra}
        stamp = f"{to_status}_at"
        if stamp in _TIMESTAMPS:
            values[stamp] = now
        with self.engine.begin() as conn:
            result = conn.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.status.in_(list(from_statuses)))
                .values(**values)
            )
        return bool(result.rowcount)

    # --- lines -----------------------------------------------------------------------------

    def done_lines(self, batch_id: str) -> set[int]:
        query = select(batch_results.c.line_index).where(batch_results.c.batch_id == batch_id)
        with self.engine.connect() as conn:
            return {int(v) for v in conn.execute(query).scalars()}

    def record_line(self, batch_id: str, result: LineResult, usage: UsageRecord | None, now: float) -> bool:
        """The line's result and the usage that bills it, in one transaction; False if already there."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(batch_results).values(batch_id=batch_id, created_at=now, **asdict(result))
                )
                if usage is not None:
                    conn.execute(insert(usage_records).values(**replace(usage, batch_id=batch_id).to_row()))
        except IntegrityError:
            return False
        return True

    def iter_results(self, batch_id: str) -> Iterator[LineResult]:
        """The batch's recorded lines in input order, fetched a few hundred at a time (a server-side
        cursor where the database has one): a 50,000-line batch's answers are never all in memory."""
        query = (
            select(*(batch_results.c[f.name] for f in fields(LineResult)))
            .where(batch_results.c.batch_id == batch_id)
            .order_by(batch_results.c.line_index)
        )
        with self.engine.connect() as conn:  # `ok` is a Boolean column: it reads back as a bool
            for row in conn.execution_options(stream_results=True, yield_per=500).execute(query):
                yield LineResult(**row._mapping)

    @staticmethod
    def _counts(conn: Any, batch_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        if not batch_ids:
            return {}
        query = (
            select(batch_results.c.batch_id, batch_results.c.ok, func.count())
            .where(batch_results.c.batch_id.in_(list(batch_ids)))
            .group_by(batch_results.c.batch_id, batch_results.c.ok)
        )
        out: dict[str, list[int]] = {}
        for batch_id, ok, count in conn.execute(query):
            pair = out.setdefault(batch_id, [0, 0])
            pair[0 if ok else 1] += int(count)
        return {k: (v[0], v[1]) for k, v in out.items()}


def _batch_from_row(m: Any, counts: tuple[int, int]) -> Batch:
    return Batch(
        id=m["id"],
        key_id=m["key_id"],
        endpoint=m["endpoint"],
        input_file_id=m["input_file_id"],
        completion_window=m["completion_window"],
        status=m["status"],
        total=m["total"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        completed=counts[0],
        failed=counts[1],
        errors=json.loads(m["errors_json"]) if m["errors_json"] else None,
        metadata=json.loads(m["metadata_json"]) if m["metadata_json"] else None,
        output_file_id=m["output_file_id"],
        error_file_id=m["error_file_id"],
        timestamps={name: m[name] for name in _TIMESTAMPS},
    )
