"""The model store over HTTP: uploads (admin), listings, and the files rigs download."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread

from rigshift.server.errors import BadRequest, Conflict, NotFound
from rigshift.server.stores.model_files import HashingWriter, ModelStore, StoredModel


class ModelFilesService:
    def __init__(self, store: ModelStore | None):
        self.store = store

    async def list(self) -> list[StoredModel]:
        return await anyio.to_thread.run_sync(self.store.list) if self.store else []

    def path(self, name: str) -> Path:
        """The stored file `name` for a download, or NotFound."""
        path = self.store.path(name) if self.store else None
        if path is None or not path.is_file():
            raise NotFound(f"no model {name!r} in the store", code="model_not_found")
        return path

    async def upload(self, name: str, chunks: AsyncIterator[bytes]) -> StoredModel:
        """Stream `chunks` into the store as `name`; nothing is visible until it is complete."""
        if self.store is None:
            raise Conflict("this server has no model store directory", code="no_model_store")
        tmp, final = self.store.open_upload(name)
        writer = await anyio.to_thread.run_sync(HashingWriter, tmp)
        try:
            async for chunk in chunks:
                await anyio.to_thread.run_sync(writer.write, chunk)
            digest = await anyio.to_thread.run_sync(writer.close)
            if writer.size == 0:
                raise BadRequest("an empty upload is not a model file", code="empty_upload")
            await anyio.to_thread.run_sync(ModelStore.finish_upload, tmp, final, digest)
        except BaseException:
            with contextlib.suppress(Exception):
                writer.close()
            tmp.unlink(missing_ok=True)
            raise
        return StoredModel(name, writer.size, digest)
