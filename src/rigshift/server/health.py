"""Health probes for replicas the gateway took out of rotation (directories without a supervisor).

Directories that keep their own health (the data plane's manager, the local supervisor) do not
offer `suspects()`; for the others (`StaticDirectory`), a replica that stopped answering comes
back only when `GET /health` answers 200 (llama-server's and vLLM's health route).
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from rigshift.run.contracts import ReplicaDirectory


async def probe_loop(directory: ReplicaDirectory, interval_s: float, timeout_s: float) -> None:
    if not callable(getattr(directory, "suspects", None)):
        return
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        while True:
            await asyncio.sleep(interval_s)
            for replica in directory.suspects():  # type: ignore[attr-defined]
                with contextlib.suppress(httpx.HTTPError, OSError):
                    answer = await client.get(replica.base_url.rstrip("/") + "/health")
                    if answer.status_code == 200:
                        directory.mark_healthy(replica.replica_id)  # type: ignore[attr-defined]
