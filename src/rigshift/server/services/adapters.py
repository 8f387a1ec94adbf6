"""Tenants' LoRA adapters: upload (streamed, checked against the base GGUF), list, delete.

The bytes go to the model store (so rigs fetch them like any model file, verified by sha256)
under a name of their own; the adapters table records the owner. Nothing is stored by a failed
upload: the bytes are written to a temporary file, checked, and renamed only when they pass.
After a change the `on_change` hook re-places adapters on the base's replicas (the data plane
restarts each replica drained first, see run/adapter_placement.py) and the gateway's view is
refreshed.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from pathlib import Path

import anyio.to_thread

from rigshift.errors import InputError
from rigshift.server.adapter_check import check_adapter
from rigshift.server.adapter_routing import AdapterRouting
from rigshift.server.errors import BadRequest, Conflict, NotFound, TooLarge
from rigshift.server.stores.adapters import Adapter, AdapterStore
from rigshift.server.stores.keys import ApiKey
from rigshift.server.stores.model_files import HashingWriter, ModelStore

ADAPTER_MAX_BYTES = 256 * 1024 * 1024  # a rank-64 LoRA of an 8B model is ~170 MB in f16
ADAPTERS_PER_KEY = 64


def public(adapter: Adapter) -> dict[str, object]:
    """An adapter as its owner sees it over HTTP (the model id, base, size, checksum, rank)."""
    data: dict[str, object] = {"object": "model", **asdict(adapter)}
    del data["key_id"], data["file_name"]
    data["owned_by"] = adapter.key_id
    return data


class AdapterService:
    def __init__(
        self,
        store: AdapterStore,
        files: ModelStore | None,
        routing: AdapterRouting,
        clock: Callable[[], float],
        *,
        max_bytes: int = ADAPTER_MAX_BYTES,
        per_key: int = ADAPTERS_PER_KEY,
        on_change: Callable[[list[Adapter]], None] | None = None,
    ):
        self.store, self.files, self.routing, self.clock = store, files, routing, clock
        self.max_bytes, self.per_key, self.on_change = max_bytes, per_key, on_change

    def base_file(self, model: str) -> Path:
        """The base model's GGUF in the model store: the file `model` or `model.gguf`."""
        if self.files is not None:
            for name in (model, model + ".gguf"):
                with contextlib.suppress(InputError):
                    path = self.files.path(name)
                    if path.is_file():
                        return path
        raise NotFound(
            f"no base model {model!r} in the model store (upload it to /admin/models/{model}.gguf)",
            code="model_not_found",
            param="model",
        )

    async def upload(
        self, key: ApiKey, model: str, chunks: AsyncIterator[bytes], sha256: str | None = None
    ) -> Adapter:
        if self.files is None:
            raise Conflict("this server has no model store directory", code="no_model_store")
        base = self.base_file(model)
        owned = await anyio.to_thread.run_sync(self.store.owned_by, key.id)
        if len(owned) >= self.per_key:
            raise Conflict(
                f"this key already has {len(owned)} adapters, the most one key may store; delete one first",
                code="adapter_limit",
            )
        suffix = secrets.token_hex(6)
        tmp, final = self.files.open_upload(f"adapter-{suffix}.gguf")
        writer = await anyio.to_thread.run_sync(HashingWriter, tmp)
        try:
            async for chunk in chunks:
                if writer.size + len(chunk) > self.max_bytes:
                    raise TooLarge(
                        f"an adapter may be at most {self.max_bytes} bytes",
                        code="adapter_too_large",
                        param="file",
                    )
                await anyio.to_thread.run_sync(writer.write, chunk)
            digest = await anyio.to_thread.run_sync(writer.close)
            if writer.size == 0:
                raise BadRequest("an empty upload is not an adapter", code="empty_upload", param="file")
            if sha256 is not None and sha256.lower() != digest:
                raise BadRequest(
                    f"the upload's sha256 is {digest}; the request said {sha256}",
                    code="checksum_mismatch",
                    param="sha256",
                )
            header = await anyio.to_thread.run_sync(check_adapter, tmp, base)
            adapter = Adapter(
                id=f"ft:{model}:{key.id}::{suffix}",
                key_id=key.id,
                base_model=model,
                file_name=final.name,
                bytes=writer.size,
                sha256=digest,
                alpha=header.alpha,
                rank=header.rank,
                created_at=self.clock(),
            )
            await anyio.to_thread.run_sync(ModelStore.finish_upload, tmp, final, digest)
            try:
                await anyio.to_thread.run_sync(self.store.add, adapter)
            except BaseException:
                final.unlink(missing_ok=True)
                final.with_name(final.name + ".sha256").unlink(missing_ok=True)
                raise
        except BaseException:
            with contextlib.suppress(Exception):
                writer.close()
            tmp.unlink(missing_ok=True)
            raise
        await self._changed()
        return adapter

    async def list(self, key: ApiKey) -> list[Adapter]:
        return await anyio.to_thread.run_sync(self.store.owned_by, key.id)

    async def delete(self, key: ApiKey, adapter_id: str) -> None:
        adapter = await anyio.to_thread.run_sync(self.store.get, adapter_id, key.id)
        if adapter is None or not await anyio.to_thread.run_sync(self.store.delete, adapter_id, key.id):
            raise NotFound(f"no adapter {adapter_id!r}", code="model_not_found", param="model")
        await self._changed()
        # The file stays until the replicas stop loading it (the next restart no longer names it).

    async def _changed(self) -> None:
        await anyio.to_thread.run_sync(self.routing.refresh)
        if self.on_change is not None:
            every = await anyio.to_thread.run_sync(self.store.every)
            await anyio.to_thread.run_sync(self.on_change, every)
