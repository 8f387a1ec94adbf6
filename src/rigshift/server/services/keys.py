"""API keys: create, list, revoke, and authenticate requests through a short cache.

Checking a key costs a database read and a hash; the gateway authenticates every request, so
answers (unknown keys too) are kept `cache_s` seconds. A key revoked through this service leaves
the cache at once; one revoked in the database by another process stops working within `cache_s`.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio.to_thread

from rigshift.server.schemas import KeyCreate
from rigshift.server.stores.keys import ApiKey, KeyStore, hash_key

__all__ = ["ApiKey", "KeysService"]  # routers name `ApiKey` from here, never from the store


# A flood of made-up keys must not grow the cache without bound: past this many entries it starts over.
MAX_CACHED = 10_000


class KeysService:
    def __init__(
        self,
        store: KeyStore,
        clock: Callable[[], float],
        on_revoked: Callable[[str], None] = lambda _key_id: None,
        *,
        cache_s: float = 0.0,
    ):
        self.store = store
        self.clock = clock
        self.on_revoked = on_revoked  # told after the cache forgot the key (console sessions end)
        self.cache_s = cache_s
        self._cache: dict[str, tuple[ApiKey | None, float]] = {}  # hash of the secret -> (key, until)

    async def authenticate(self, secret: str) -> ApiKey | None:
        """The live key `secret` belongs to, else None; answered from the cache while it is fresh."""
        cache_key = hash_key(secret)
        now = self.clock()
        cached = self._cache.get(cache_key)
        if cached is not None and cached[1] > now:
            return cached[0]
        key = await anyio.to_thread.run_sync(self.store.authenticate, secret)
        if len(self._cache) > MAX_CACHED:
            self._cache.clear()
        self._cache[cache_key] = (key, now + self.cache_s)
        return key

    def forget(self, key_id: str) -> None:
        """Stop honouring `key_id` now, not when its cache entry expires."""
        self._cache = {h: v for h, v in self._cache.items() if v[0] is None or v[0].id != key_id}

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
        self.forget(key.id)
        self.on_revoked(key.id)
        return key
