"""Group commit for usage records: every request waits until its record is committed.

Requests that finish while a commit is running join the next one, so at 32 concurrent streams
the database sees a few transactions per second instead of one per request, and no request
returns (or sends `data: [DONE]`) before its record is durable.
"""

from __future__ import annotations

import asyncio

import anyio.to_thread

from rigshift.server.usage import UsageRecord, UsageStore


class UsageWriter:
    def __init__(self, store: UsageStore, *, inline: bool | None = None):
        self.store = store
        # SQLite commits a small batch in ~0.2 ms: done on the event loop, that is cheaper than a
        # worker thread, which under load waits for the GIL at every SQLite call (a 5 ms switch
        # interval each: 65 ms per commit was measured at 32 streams). A networked database
        # (PostgreSQL) goes through a thread so a slow round trip never stalls the loop.
        self.inline = store.engine.dialect.name == "sqlite" if inline is None else inline
        self._pending: list[tuple[UsageRecord, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def write(self, record: UsageRecord) -> None:
        """Return once `record` is committed; raise if the commit failed."""
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
                records = [r for r, _ in batch]
                if self.inline:
                    self.store.insert_many(records)
                else:
                    await anyio.to_thread.run_sync(self.store.insert_many, records)
            except Exception as error:  # the DB failed: every waiter learns it, none is dropped silently
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def drain(self) -> None:
        """Wait for every record handed in so far (server shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})
