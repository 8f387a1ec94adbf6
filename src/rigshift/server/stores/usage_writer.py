"""Usage records are committed before the request completes: no response (and no streamed
`data: [DONE]`) goes out before its record is durable.

SQLite: committed inline on the event loop, one short transaction per request (see `write`),
with a busy timeout of a few milliseconds. When the database is locked (another process holds a
write lock), the writer switches to the worker-thread path below until a commit succeeds there,
so a lock never stalls the event loop (`/healthz`, streams and every other request keep going).
Networked databases (PostgreSQL): group commit on a worker thread; requests that finish while a
commit is running join the next one, so a slow round trip neither stalls the loop nor costs one
transaction per request. Records waiting for a commit are bounded (`max_pending`): past it a
request fails with 503 (not billed, not delivered) instead of queueing without end.

Any store with `engine` and `insert_many(records, connection)` can be written this way
(`RowStore`): stored Responses API responses are (`services.responses`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

R = TypeVar("R")
R_contra = TypeVar("R_contra", contravariant=True)


class RowStore(Protocol[R_contra]):
    engine: Engine

    def insert_many(self, records: Sequence[R_contra], connection: Connection | None = None) -> None: ...


class UsageWriterBusy(Exception):
    """Too many records are already waiting for the database."""


class UsageWriter(Generic[R]):
    def __init__(
        self,
        store: RowStore[R],
        *,
        inline: bool | None = None,
        inline_busy_timeout_ms: int = 5,
        max_pending: int = 10_000,
    ):
        self.store = store
        # SQLite on the loop: a worker thread would wait for the GIL at every SQLite call under
        # load (5 ms switch interval each: 65 ms per commit was measured at 32 streams).
        self.inline = store.engine.dialect.name == "sqlite" if inline is None else inline
        self.inline_busy_timeout_ms = inline_busy_timeout_ms
        self.max_pending = max_pending
        self.degraded = False  # SQLite was locked: writes go through the thread until one succeeds
        self._pending: list[tuple[R, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._connection: Connection | None = None  # inline mode: one connection, no pool checkout

    async def write(self, record: R) -> None:
        """Return once `record` is committed; raise if the commit failed."""
        if self.inline and not self.degraded:
            # SQLite without an fsync per commit (WAL, synchronous=NORMAL): a one-row commit costs
            # ~0.25 ms, less than any hand-off to a batch; doing it right here adds no waiting.
            try:
                self._write_now([record])
                return
            except OperationalError as error:
                if not _locked(error):
                    raise
                self.degraded = True  # someone else holds the write lock: wait off the loop
        if len(self._pending) >= self.max_pending:
            raise UsageWriterBusy(f"{len(self._pending)} usage records are already waiting for the database")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((record, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())
        # Shielded: a client hanging up must not cancel the write it already paid for.
        await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await anyio.to_thread.run_sync(self.store.insert_many, [r for r, _ in batch])
            except Exception as error:  # the DB failed: every waiter learns it, none is dropped silently
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                self.degraded = False  # the lock is gone: back to committing on the loop
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    def _write_now(self, records: list[R]) -> None:
        if self._connection is None:
            self._connection = self.store.engine.connect()
            # Blocking the loop is fine for a 0.25 ms commit, not for a lock wait: past a few
            # milliseconds the record goes to the worker thread instead (see `write`).
            if self.store.engine.dialect.name == "sqlite":
                self._connection.exec_driver_sql(f"PRAGMA busy_timeout={int(self.inline_busy_timeout_ms)}")
        try:
            self.store.insert_many(records, self._connection)
        except Exception:
            # Start over with a fresh connection next time; this one (with its few-millisecond
            # busy timeout) must not go back to the pool, where the worker thread would get it.
            self._connection.invalidate()
            self._connection.close()
            self._connection = None
            raise

    async def drain(self) -> None:
        """Wait for every record handed in so far (server shutdown), then close the connection."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})
        if self._connection is not None:
            self._connection.invalidate()  # not back to the pool with its short busy timeout
            self._connection.close()
            self._connection = None


def _locked(error: OperationalError) -> bool:
    text = str(error.orig).lower()
    return "locked" in text or "busy" in text
