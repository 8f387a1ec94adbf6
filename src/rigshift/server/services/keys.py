"""API keys: create, list, revoke, with the gateway's auth cache told at once."""

from __future__ import annotations

from collections.abc import Callable

import anyio.to_thread

from rigshift.server.schemas import KeyCreate
from rigshift.server.stores.keys import ApiKey, KeyStore

__all__ = ["ApiKey", "KeysService"]  # routers name `ApiKey` from here, never from the store


class KeysService:
    def __init__(self, store: KeyStore, clock: Callable[[], float], on_revoked: Callable[[str], None]):
        self.store = store
        self.clock = clock
        self.on_revoked = on_revoked

    async def create(self, request: KeyCreate) -> tuple[ApiKey, str]:
        return await anyio.to_thread.run_sync(
            lambda: self.store.create(
                request.name,
                now=self.clock(),
                admin=request.admin,
                allowed_models=request.allowed_models,
                token_quota=request.token_quota,
                quota_period=request.quota_period,
                rate_limit_rpm=request.rate_limit_rpm,
            )
        )

    async def list(self) -> list[ApiKey]:
        return await anyio.to_thread.run_sync(self.store.list)

    async def names(self) -> dict[str, str]:
        """Every key's name by id (the usage report's tenants)."""
        return {key.id: key.name for key in await self.list()}

    async def get(self, key_id: str) -> ApiKey | None:
        return await anyio.to_thread.run_sync(self.store.get, key_id)

    async def verify(self, secret: str) -> ApiKey | None:
        """The live key `secret` belongs to, checked against the store now (a console login)."""
        return await anyio.to_thread.run_sync(self.store.authenticate, secret)

    async def revoke(self, id_or_name: str) -> ApiKey:
        key = await anyio.to_thread.run_sync(lambda: self.store.revoke(id_or_name, now=self.clock()))
        self.on_revoked(key.id)
        return key
