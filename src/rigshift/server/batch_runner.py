"""Drives Batch API work forward on spare capacity and in the hours the energy policy allows.

Each tick, for every active batch, oldest first:
- past its window: finalise as `expired` (lines already done are delivered);
- `cancelling`: finalise as `cancelled` (likewise);
- `in_progress` and the gate open: run up to `concurrency` of its pending lines at once, record
  each with the usage that bills it (one transaction per line; `stores.batches` explains why that
  makes the line the checkpoint); when none is pending, finalise as `completed`.

A closed gate (curtailment, a demand-response event, batch off in the policy) only stops new
lines from starting: lines in flight finish and are recorded, so a pause neither loses nor
repeats work. A line the dispatcher could not place now (no free replica slot, a replica that
did not answer) is not recorded and is retried on a later tick; one the backend answered, even
with an error, is final and lands in the error file, as OpenAI's Batch API does.

A line refused for its key's token quota is final too, with the gateway's 429 and reason in the
error file (before, it was retried silently until the batch expired). Lines running side by side
hold quota for each other, so a refusal among several is first retried with the line alone; only
a line refused while it runs alone is recorded as starved.

Reading and parsing the input file, and every database read and write, run in worker threads:
a 100 MB input must not stall the event loop that serves interactive requests. Nor is it held in
memory: each batch has a cursor into its file, read `concurrency` lines at a time, plus the few
lines waiting to be tried again; the recorded lines are skipped as the cursor passes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import anyio.to_thread

from rigshift.server.batch_input import BATCH_ENDPOINTS, BatchLine
from rigshift.server.services.batches import BatchService
from rigshift.server.stores.batches import Batch, LineResult, new_id
from rigshift.server.stores.usage import UsageRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatchResult:
    """What became of one line. `retry_later`: nothing ran (no free slot, quota spent): try again.

    `quota_spent`: refused for the key's token quota; `status_code` and `body` are the refusal,
    recorded as the line's answer when the line was refused while running alone."""

    status_code: int = 0
    body: bytes = b""
    usage: UsageRecord | None = None
    retry_later: bool = False
    reason: str = ""
    quota_spent: bool = False


class BatchDispatcher(Protocol):
    async def dispatch(self, key_id: str, endpoint: str, line: BatchLine) -> DispatchResult: ...


class BatchGate(Protocol):
    """The energy side's say: may batch work start now? (False during curtailment or an event.)"""

    def batch_allowed(self, now: float) -> bool: ...


class AlwaysOpen:
    def batch_allowed(self, now: float) -> bool:
        return True


@dataclass
class _Cursor:
    """Where the runner is in one batch's input file: the lines not read yet, and the few read
    that must run again (no free slot, quota held by the others). Advanced in worker threads."""

    lines: Iterator[BatchLine]
    done: set[int]  # recorded before this cursor was opened (a restart): skipped as it passes
    again: deque[BatchLine] = field(default_factory=deque)
    read_all: bool = False

    def take(self, n: int) -> list[BatchLine]:
        """Up to `n` lines to run: those to try again first, then the file's next ones."""
        out = [self.again.popleft() for _ in range(min(n, len(self.again)))]
        while len(out) < n and not self.read_all:
            line = next(self.lines, None)
            if line is None:
                self.read_all = True
            elif line.index not in self.done:
                out.append(line)
        return out

    def exhausted(self) -> bool:
        """Nothing left to run (reads ahead one line, kept to run next)."""
        if not self.again:
            self.again.extend(self.take(1))
        return not self.again

    def close(self) -> None:
        close = getattr(self.lines, "close", None)
        if close is not None:
            close()  # the file it reads


@dataclass
class BatchRunner:
    service: BatchService
    dispatcher: BatchDispatcher
    gate: BatchGate = field(default_factory=AlwaysOpen)
    concurrency: int = 4
    poll_s: float = 1.0
    clock: Callable[[], float] | None = None
    _cursors: dict[str, _Cursor] = field(default_factory=dict)
    # Per batch, each line's token estimate (4 bytes a line's worth: the energy policy's backlog).
    _tokens: dict[str, array[int]] = field(default_factory=dict)
    _alone: set[str] = field(default_factory=set)  # batches whose next line runs alone (quota)
    _task: asyncio.Task[None] | None = None
    _stopping: bool = False
    paused: bool = False  # the gate's last answer, for the console and /admin

    def now(self) -> float:
        return (self.clock or self.service.clock)()

    async def tick(self) -> int:
        """One pass over the active batches; returns how many lines were recorded."""
        recorded = 0
        for batch in await anyio.to_thread.run_sync(self.service.batches.active):
            recorded += await self._advance(batch)
        return recorded

    async def _advance(self, batch: Batch) -> int:
        now = self.now()
        if batch.status == "cancelling":
            await self._finish(batch, "cancelled")
            return 0
        if batch.status == "in_progress" and now >= batch.expires_at:
            await self._finish(batch, "expired")
            return 0
        if batch.status == "finalizing":
            await self._finish(batch, "completed")
            return 0
        if batch.status != "in_progress":
            return 0
        cursor = self._cursors.get(batch.id)
        if cursor is None:
            cursor = self._cursors[batch.id] = await anyio.to_thread.run_sync(self._open, batch)
        self.paused = not self.gate.batch_allowed(now)
        if self.paused:
            # A closed gate starts nothing, but a batch with nothing left still completes.
            if await anyio.to_thread.run_sync(cursor.exhausted):
                await self._finish(batch, "completed")
            return 0
        alone = batch.id in self._alone
        pending = await anyio.to_thread.run_sync(cursor.take, 1 if alone else self.concurrency)
        if not pending:
            await self._finish(batch, "completed")
            return 0
        endpoint = BATCH_ENDPOINTS[batch.endpoint]
        outcomes = await asyncio.gather(*(self._run_line(batch, endpoint, line, alone) for line in pending))
        return sum(outcomes)

    def _open(self, batch: Batch) -> _Cursor:
        return _Cursor(self.service.lines_of(batch), self.service.batches.done_lines(batch.id))

    def _again(self, batch: Batch, line: BatchLine) -> int:
        """`line` did not run: it is tried again on a later tick. Returns 0 (nothing recorded)."""
        cursor = self._cursors.get(batch.id)
        if cursor is not None:
            cursor.again.append(line)
        return 0

    async def _run_line(self, batch: Batch, endpoint: str, line: BatchLine, alone: bool = True) -> int:
        try:
            result = await self.dispatcher.dispatch(batch.key_id, endpoint, line)
        except Exception as error:  # a dispatcher bug must not kill the runner: retry the line later
            log.warning(
                "batch %s line %d (file line %d): dispatch failed: %s", batch.id, line.index, line.line, error
            )
            return self._again(batch, line)
        if result.quota_spent and not alone:
            self._alone.add(batch.id)  # the others' reservations may be what starved it: try alone
            return self._again(batch, line)
        if result.retry_later and not result.quota_spent:
            return self._again(batch, line)
        if not result.quota_spent:
            self._alone.discard(batch.id)  # quota (or no quota) let a line through: full speed again
        request_id = new_id("batch_req_")
        recorded = await anyio.to_thread.run_sync(
            self.service.batches.record_line,
            batch.id,
            LineResult(
                line_index=line.index,
                custom_id=line.custom_id,
                request_id=request_id,
                status_code=result.status_code,
                body=result.body.decode("utf-8", "replace") or "{}",
                ok=200 <= result.status_code < 300,
            ),
            result.usage,
            self.now(),
        )
        return int(recorded)

    def backlog(self) -> list[tuple[str, int, float]]:
        """(batch id, tokens still to run, deadline) per in-progress batch: what the energy policy
        weighs against the price (a batch whose deadline allows waiting waits for cheap hours)."""
        out = []
        for batch in self.service.batches.active():
            if batch.status != "in_progress":
                continue
            # Called from the energy loop's thread, which alone fills `_tokens` (one pass over the
            # file per batch); the event loop only drops a finished batch's entry.
            tokens = self._tokens.get(batch.id)
            if tokens is None:
                tokens = self._tokens[batch.id] = array(
                    "q", (line.tokens_estimate for line in self.service.lines_of(batch))
                )
            done = self.service.batches.done_lines(batch.id)
            out.append((batch.id, sum(t for i, t in enumerate(tokens) if i not in done), batch.expires_at))
        return out

    async def _finish(self, batch: Batch, status: str) -> None:
        if await anyio.to_thread.run_sync(self.service.finalize, batch, status):
            cursor = self._cursors.pop(batch.id, None)
            if cursor is not None:
                await anyio.to_thread.run_sync(cursor.close)
            self._tokens.pop(batch.id, None)
            self._alone.discard(batch.id)

    # --- lifecycle -------------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                recorded = await self.tick()
            except Exception:  # the store was briefly unavailable: keep the runner alive
                log.exception("batch runner tick failed")
                recorded = 0
            if recorded == 0 and not self._stopping:
                await asyncio.sleep(self.poll_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self, grace_s: float = 10.0) -> None:
        """Let lines in flight finish and be recorded (up to `grace_s`), then stop.

        A line cut off after that is simply not recorded: it runs again after the restart, and
        the output still holds it once.
        """
        if self._task is None:
            return
        self._stopping = True
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._task), grace_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        self._stopping = False
        for cursor in self._cursors.values():
            cursor.close()
        self._cursors.clear()
