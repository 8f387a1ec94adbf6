"""The keys service's authentication cache, over a real SQLite key store (no mocks).

The store is real; the clock is a variable the test moves, and the store is watched by counting
how often it is asked, so "served from the cache" is an observed fact, not an assumption.
"""

from __future__ import annotations

import anyio
import pytest
from sqlalchemy import update

from rigshift.server.services.keys import KeysService
from rigshift.server.stores.keys import ApiKey, KeyStore
from rigshift.server.tables import api_keys


class CountingKeyStore(KeyStore):
    """The real store, counting the authentications that reach the database."""

    lookups = 0

    def authenticate(self, full_key: str) -> ApiKey | None:
        self.lookups += 1
        return super().authenticate(full_key)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup(engine):
    store = CountingKeyStore(engine)
    clock = Clock()
    revoked: list[str] = []
    service = KeysService(store, clock, on_revoked=revoked.append, cache_s=30.0)
    return store, clock, service, revoked


def test_a_key_is_read_from_the_store_once_per_cache_period(setup):
    store, clock, service, _ = setup
    key, secret = store.create("acme", now=clock())

    async def main() -> None:
        assert (await service.authenticate(secret)).id == key.id
        clock.now += 29
        assert (await service.authenticate(secret)).id == key.id
        assert store.lookups == 1
        clock.now += 2  # past the 30 s: asked again
        assert (await service.authenticate(secret)).id == key.id
        assert store.lookups == 2

    anyio.run(main)


def test_a_key_revoked_through_the_service_stops_working_at_once(setup):
    store, clock, service, revoked = setup
    key, secret = store.create("acme", now=clock())
    other, other_secret = store.create("beta", now=clock())

    async def main() -> None:
        assert await service.authenticate(secret) is not None
        assert await service.authenticate(other_secret) is not None
        await service.revoke(key.id)
        assert await service.authenticate(secret) is None  # the cache forgot it
        assert (await service.authenticate(other_secret)).id == other.id  # the others stay cached
        assert store.lookups == 3

    anyio.run(main)
    assert revoked == [key.id]  # and the console's sessions were told


def test_a_key_revoked_elsewhere_stops_working_when_its_cache_entry_expires(setup, engine):
    store, clock, service, _ = setup
    key, secret = store.create("acme", now=clock())

    async def main() -> None:
        assert await service.authenticate(secret) is not None
        with engine.begin() as conn:  # another process (`rigshift keys revoke --db`) revokes it
            conn.execute(update(api_keys).where(api_keys.c.id == key.id).values(revoked_at=clock()))
        clock.now += 31
        assert await service.authenticate(secret) is None

    anyio.run(main)


def test_unknown_keys_are_cached_too_and_the_cache_stays_bounded(setup, monkeypatch):
    store, _clock, service, _ = setup
    monkeypatch.setattr("rigshift.server.services.keys.MAX_CACHED", 5)

    async def main() -> None:
        assert await service.authenticate("rs-000000000000_nope") is None
        assert await service.authenticate("rs-000000000000_nope") is None
        assert store.lookups == 1
        for i in range(20):
            await service.authenticate(f"rs-{i:012x}_guess")
        assert len(service._cache) <= 6

    anyio.run(main)
