"""The Batch API's use-cases: upload a file, create, read, list and cancel batches, assemble output.

Routers call these with the authenticated key; the runner (`batch_runner`) drives batches
forward. Errors are the project's one tree (`InputError` 400, `NotFound` 404), mapped to OpenAI's
error shape once by the server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rigshift.errors import InputError
from rigshift.server.batch_input import (
    BATCH_ENDPOINTS,
    MAX_PROBLEMS,
    BatchLine,
    LineProblem,
    empty_file,
    iter_batch_lines,
)
from rigshift.server.errors import NotFound
from rigshift.server.file_uploads import UPLOAD_PURPOSE, FileLimits, PendingUpload, UploadGuard
from rigshift.server.stores.batches import Batch, BatchStore, FileStore, LineResult, StoredFile, new_id
from rigshift.server.stores.file_blobs import BlobWriter
from rigshift.server.stores.keys import ApiKey
from rigshift.suggest import did_you_mean

COMPLETION_WINDOWS = {"24h": 24 * 3600.0}
FILE_PURPOSES = (UPLOAD_PURPOSE,)  # what a client may upload; "batch_output" files are the server's
MAX_METADATA_PAIRS = 16  # OpenAI's limits on batch metadata
LIST_ORDERS = ("asc", "desc")
# OpenAI's words for a request its batch's window closed on before it ran (code `batch_expired`).
EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."


@dataclass
class BatchService:
    files: FileStore
    batches: BatchStore
    clock: Callable[[], float]
    limits: FileLimits = field(default_factory=FileLimits)
    _guard: UploadGuard = field(init=False)

    def __post_init__(self) -> None:
        # One guard for the service's life: its lock is what makes the limits hold under concurrency.
        self._guard = UploadGuard(self.limits, self.files, self.clock)

    # --- files -----------------------------------------------------------------------------

    def begin_upload(self, key: ApiKey) -> PendingUpload:
        """Start streaming an upload to disk (refused over the key's rate or file count).

        Write it with `write` (from a worker thread), then `finish_upload` or `abort`."""
        return self._guard.begin(key.id)

    def finish_upload(self, upload: PendingUpload, purpose: str, filename: str) -> StoredFile:
        """Check the form's fields and store the upload; on any refusal the caller aborts it."""
        check_purpose(purpose)
        if upload.writer.size == 0:
            raise InputError("the uploaded file is empty", field="file", expected="a JSONL file")
        if not filename.strip() or any(c in filename for c in "\r\n\0"):
            raise InputError("the file name is empty or has control characters", field="file")
        return upload.finish(purpose, filename)

    def upload(self, key: ApiKey, purpose: str, filename: str, content: bytes) -> StoredFile:
        """A whole file at once (blocking): what the HTTP route does in chunks."""
        check_purpose(purpose)
        upload = self.begin_upload(key)
        try:
            upload.write(content)
            return self.finish_upload(upload, purpose, filename)
        finally:
            upload.abort()

    def file(self, key: ApiKey, file_id: str) -> StoredFile:
        found = self.files.get(key.id, file_id)
        if found is None:
            raise NotFound(f"no file {file_id!r}", param="file_id")
        return found

    def file_path(self, key: ApiKey, file_id: str) -> Path:
        """Where the bytes of the key's file are, for a response streamed from disk."""
        path = self.files.path(key.id, file_id)
        if path is None:
            raise NotFound(f"no file {file_id!r}", param="file_id")
        return path

    def file_bytes(self, key: ApiKey, file_id: str) -> bytes:
        content = self.files.read(key.id, file_id)
        if content is None:
            raise NotFound(f"no file {file_id!r}", param="file_id")
        return content

    def list_files(
        self,
        key: ApiKey,
        *,
        purpose: str | None = None,
        after: str | None = None,
        limit: int = 10_000,
        order: str = "desc",
    ) -> tuple[list[StoredFile], bool]:
        """A page of the key's files and whether more follow (OpenAI's `has_more`)."""
        if order not in LIST_ORDERS:
            raise InputError(
                f"order {order!r} is not one of {LIST_ORDERS}", field="order", expected="asc or desc"
            )
        try:
            page = self.files.page(key.id, purpose=purpose, after=after, limit=limit + 1, order=order)
        except LookupError:
            raise InputError(
                f"after={after!r} is not one of this key's files (deleted since the last page?)",
                field="after",
                expected="the id of a file from the previous page, or no `after` to start again",
            ) from None
        return page[:limit], len(page) > limit

    def delete_file(self, key: ApiKey, file_id: str) -> None:
        if not self.files.delete(key.id, file_id):
            raise NotFound(f"no file {file_id!r}", param="file_id")

    # --- batches ---------------------------------------------------------------------------

    def create(
        self,
        key: ApiKey,
        *,
        input_file_id: str,
        endpoint: str,
        completion_window: str,
        metadata: dict[str, str] | None = None,
    ) -> Batch:
        _require_one_of(
            endpoint, BATCH_ENDPOINTS, "cannot be batched", "endpoint", ", ".join(BATCH_ENDPOINTS)
        )
        if completion_window not in COMPLETION_WINDOWS:
            raise InputError(
                f"completion_window {completion_window!r} is not offered",
                field="completion_window",
                expected=", ".join(COMPLETION_WINDOWS),
            )
        if metadata is not None and len(metadata) > MAX_METADATA_PAIRS:
            raise InputError("too many metadata pairs", field="metadata", expected=f"<= {MAX_METADATA_PAIRS}")
        stored = self.files.get(key.id, input_file_id)
        if stored is None or stored.purpose != "batch":
            raise NotFound(f"no batch input file {input_file_id!r}", param="input_file_id")
        count, problems = self._check_input(key, input_file_id, endpoint)
        now = self.clock()
        return self.batches.create(
            key_id=key.id,
            endpoint=endpoint,
            input_file_id=input_file_id,
            completion_window=completion_window,
            status="failed" if problems else "in_progress",
            total=0 if problems else count,
            now=now,
            expires_at=now + COMPLETION_WINDOWS[completion_window],
            metadata=metadata,
            errors=[p.to_openai() for p in problems] or None,
        )

    def _check_input(self, key: ApiKey, file_id: str, endpoint: str) -> tuple[int, list[LineProblem]]:
        """The file's requests counted and its problems (the first `MAX_PROBLEMS`; models the key may
        not use after the file's own), one line at a time: no list of the file's lines is built."""
        count = 0
        problems: list[LineProblem] = []
        refused: list[LineProblem] = []
        for item in iter_batch_lines(self.files.lines(key.id, file_id) or (), endpoint):
            if isinstance(item, LineProblem):
                if item.code == "too_many_lines":
                    return 0, [item]
                if len(problems) < MAX_PROBLEMS:
                    problems.append(item)
                continue
            count += 1
            if not key.allows(item.model) and len(refused) < MAX_PROBLEMS:
                message = f"this API key may not use model {item.model!r}"
                refused.append(LineProblem(item.line, "model_not_allowed", message))
        if not count and not problems:
            problems.append(empty_file())
        return count, (problems + refused)[:MAX_PROBLEMS]

    def get(self, key: ApiKey, batch_id: str) -> Batch:
        found = self.batches.get(key.id, batch_id)
        if found is None:
            raise NotFound(f"no batch {batch_id!r}", param="batch_id")
        return found

    def page(self, key: ApiKey, *, after: str | None, limit: int) -> list[Batch]:
        return self.batches.page(key.id, after=after, limit=limit)

    def cancel(self, key: ApiKey, batch_id: str) -> Batch:
        batch = self.get(key, batch_id)
        if batch.status in ("validating", "in_progress"):
            self.batches.transition(batch.id, ("validating", "in_progress"), "cancelling", self.clock())
        elif batch.status not in ("cancelling", "cancelled"):
            raise InputError(
                f"a batch that is {batch.status} cannot be cancelled",
                field="batch_id",
                expected="in_progress",
            )
        return self.get(key, batch_id)

    # --- the runner's side -----------------------------------------------------------------

    def lines_of(self, batch: Batch) -> Iterator[BatchLine]:
        """The batch's lines, read from the file store as they are iterated (blocking: iterate it
        from a worker thread). The file was checked when the batch was created."""
        source = self.files.lines(batch.key_id, batch.input_file_id) or ()
        for item in iter_batch_lines(source, batch.endpoint, check_ids=False):
            if isinstance(item, BatchLine):
                yield item

    def finalize(self, batch: Batch, final_status: str) -> bool:
        """Write the output and error files from the recorded lines, then set the final status.

        The files are written before the status changes, so a client that sees "completed" always
        finds them; a crash in between leaves the batch "finalizing" and the next tick redoes it.
        """
        now = self.clock()
        if batch.status != "finalizing" and final_status == "completed":
            self.batches.transition(batch.id, ("in_progress",), "finalizing", now)
        # Streamed: results from the database and lines to the file store one at a time.
        output, errors = self.files.writer(), self.files.writer()
        try:
            done: set[int] = set()
            for result in self.batches.iter_results(batch.id):
                done.add(result.line_index)
                (output if result.ok else errors).write(_result_line(result))
            if final_status == "expired":
                # OpenAI's Batch API: each request the window closed on is in the error file.
                for line in self.lines_of(batch):
                    if line.index not in done:
                        errors.write(_expired_line(line))
            output_id = self._keep(batch, "output", output, now)
            error_id = self._keep(batch, "error", errors, now)
        finally:
            output.discard()  # a no-op once kept
            errors.discard()
        return self.batches.transition(
            batch.id,
            ("in_progress", "finalizing", "cancelling"),
            final_status,
            now,
            output_file_id=output_id,
            error_file_id=error_id,
        )

    def _keep(self, batch: Batch, kind: str, writer: BlobWriter, now: float) -> str | None:
        """The written lines as the batch's output or error file (none when nothing was written)."""
        if writer.size == 0:
            return None
        return self.files.commit(writer, batch.key_id, "batch_output", f"{batch.id}_{kind}.jsonl", now).id


def _result_line(result: LineResult) -> bytes:
    """One recorded line as OpenAI's output (or error) file holds it."""
    body = json.loads(result.body)
    error = None
    if not result.ok:
        detail = body.get("error", body) if isinstance(body, dict) else {"message": str(body)}
        error = {"code": detail.get("code"), "message": detail.get("message")}
    line = {
        "id": result.request_id,
        "custom_id": result.custom_id,
        "response": {"status_code": result.status_code, "request_id": result.request_id, "body": body},
        "error": error,
    }
    return (json.dumps(line) + "\n").encode()


def _expired_line(line: BatchLine) -> bytes:
    """A line the completion window closed on before it ran, as OpenAI's error file reports it."""
    error = {"code": "batch_expired", "message": EXPIRED_MESSAGE}
    row = {"id": new_id("batch_req_"), "custom_id": line.custom_id, "response": None, "error": error}
    return (json.dumps(row) + "\n").encode()


def check_purpose(purpose: str) -> None:
    _require_one_of(purpose, FILE_PURPOSES, "is not supported", "purpose", " or ".join(FILE_PURPOSES))


def _require_one_of(value: str, allowed: Collection[str], refusal: str, field: str, expected: str) -> None:
    """An input error naming `field`, its value and the nearest allowed ones, unless `allowed`
    holds the value."""
    if value not in allowed:
        raise InputError(
            f"{field} {value!r} {refusal}",
            field=field,
            expected=expected,
            suggestions=did_you_mean(value, allowed),
        )
