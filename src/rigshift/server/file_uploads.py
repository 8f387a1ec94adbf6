"""Per-tenant limits on Batch API uploads, and one upload as it streams to disk.

Three limits per API key, from the server's settings: how many files it may hold, how many bytes
in all, and how many uploads it may start a minute (a token bucket, like the gateway's request
limit). Only the key's own uploads (`purpose="batch"`) count: a batch's output and error files
are the server's answer to work already admitted, and are always written.

The checks hold under concurrency: bytes still streaming are reserved as they arrive, and the
final check and the row's insert happen under one lock against what the database holds, so eight
parallel uploads cannot together pass a limit that each alone would respect. (The lock is per
server process: `rigshift server` runs one.)

A refused or abandoned upload stores nothing: its partial file is deleted and no row is written.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rigshift.server.errors import ApiError, RateLimited, TooLarge
from rigshift.server.limits import RateLimiter

if TYPE_CHECKING:
    from rigshift.server.settings import ServerSettings
    from rigshift.server.stores.batches import FileStore, StoredFile
    from rigshift.server.stores.file_blobs import BlobWriter

UPLOAD_PURPOSE = "batch"


@dataclass(frozen=True)
class FileLimits:
    max_file_bytes: int = 100 * 1024 * 1024  # one upload (OpenAI's batch input limit was 100 MB)
    max_files: int = 1000  # files one key may hold
    max_bytes: int = 10 * 1024**3  # bytes one key may hold, all its uploads together
    uploads_per_minute: int = 30  # uploads one key may start a minute (bursts up to this)

    @classmethod
    def of(cls, settings: ServerSettings) -> FileLimits:
        return cls(
            max_file_bytes=settings.files_max_file_bytes,
            max_files=settings.files_max_per_key,
            max_bytes=settings.files_max_bytes_per_key,
            uploads_per_minute=settings.files_uploads_per_minute,
        )


class StorageLimit(ApiError):
    """A tenant's file count or bytes would pass its limit: 400, not retried by clients."""

    http_status = 400


@dataclass
class _InFlight:
    count: int = 0
    bytes: int = 0


@dataclass
class UploadGuard:
    """The limits' bookkeeping: reservations of uploads in flight, and the rate buckets."""

    limits: FileLimits
    store: FileStore
    clock: Callable[[], float]
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _in_flight: dict[str, _InFlight] = field(default_factory=dict)
    _rate: RateLimiter = field(default_factory=RateLimiter)

    def begin(self, key_id: str) -> PendingUpload:
        """Start an upload for `key_id`: refused (429) over the rate, (400) at the file count."""
        with self._lock:
            wait = self._rate.acquire(key_id, self.limits.uploads_per_minute, self.clock())
            if wait > 0:
                raise RateLimited(
                    f"this API key may start {self.limits.uploads_per_minute} file uploads a minute; "
                    f"try again in {math.ceil(wait)} s",
                    code="rate_limit_exceeded",
                    retry_after=str(max(1, math.ceil(wait))),
                )
            count, stored_bytes = self.store.usage(key_id, UPLOAD_PURPOSE)
            flight = self._in_flight.get(key_id, _InFlight())
            self._check_count(count + flight.count)
            writer = self.store.blobs.writer()
            flight.count += 1
            self._in_flight[key_id] = flight
        return PendingUpload(self, key_id, writer, stored_bytes)

    def grow(self, upload: PendingUpload, n: int) -> None:
        """Reserve `n` more bytes for `upload`, or refuse (413 over the file size, 400 over the total)."""
        size = upload.writer.size + n
        if size > self.limits.max_file_bytes:
            raise TooLarge(
                f"the file is larger than the limit of {self.limits.max_file_bytes} bytes",
                code="file_too_large",
                param="file",
            )
        with self._lock:
            flight = self._in_flight[upload.key_id]
            self._check_bytes(upload.stored_bytes + flight.bytes + n)
            flight.bytes += n

    def commit(self, upload: PendingUpload, purpose: str, filename: str) -> StoredFile:
        """Store the upload (row and bytes) if the key is still within its limits; else refuse."""
        with self._lock:
            count, stored = self.store.usage(upload.key_id, UPLOAD_PURPOSE)
            flight = self._in_flight[upload.key_id]
            # The others in flight keep their reservations (this one's count is among them).
            self._check_count(count + flight.count - 1)
            self._check_bytes(stored + flight.bytes)
            result = self.store.commit(upload.writer, upload.key_id, purpose, filename, self.clock())
            self._release(upload)
        return result

    def abort(self, upload: PendingUpload) -> None:
        upload.writer.discard()
        with self._lock:
            self._release(upload)

    def _release(self, upload: PendingUpload) -> None:
        if upload.released:
            return
        upload.released = True
        flight = self._in_flight[upload.key_id]
        flight.count -= 1
        flight.bytes -= upload.writer.size
        if flight.count == 0:
            del self._in_flight[upload.key_id]

    def _check_count(self, holding: int) -> None:
        if holding >= self.limits.max_files:
            raise StorageLimit(
                f"this API key holds {self.limits.max_files} files, its limit; delete some "
                "(DELETE /v1/files/{file_id}) or ask the operator to raise files_max_per_key",
                code="file_count_limit",
                param="file",
            )

    def _check_bytes(self, total: int) -> None:
        if total > self.limits.max_bytes:
            raise StorageLimit(
                f"this upload would take the API key's files past its limit of {self.limits.max_bytes} "
                "bytes in all; delete some (DELETE /v1/files/{file_id}) or ask the operator to raise "
                "files_max_bytes_per_key",
                code="file_storage_limit",
                param="file",
            )


@dataclass
class PendingUpload:
    """One upload between `begin` and `finish`/`abort`: bytes go straight to a partial file."""

    guard: UploadGuard
    key_id: str
    writer: BlobWriter
    stored_bytes: int  # what the key held when this upload began (the in-flight check's base)
    released: bool = False

    def write(self, chunk: bytes) -> None:
        """Blocking (disk): call it from a worker thread, not the event loop."""
        self.guard.grow(self, len(chunk))
        self.writer.write(chunk)

    def finish(self, purpose: str, filename: str) -> StoredFile:
        return self.guard.commit(self, purpose, filename)

    def abort(self) -> None:
        """Delete what was written and free the reservation (a no-op after `finish`)."""
        if not self.released:
            self.guard.abort(self)
