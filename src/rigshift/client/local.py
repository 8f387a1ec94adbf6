"""`LocalControlPlane`: the management commands without a server, over its database, through
the server's own services (the same rules as over HTTP: a key created here is the key the API
would create)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import anyio
from sqlalchemy import Engine

from rigshift.client.control_plane import EventRequest, UsageQuery
from rigshift.errors import InputError
from rigshift.run.spec import ReplicaSpec
from rigshift.server.schemas import KeyCreate
from rigshift.server.services.keys import KeysService
from rigshift.server.services.usage import summarise_usage
from rigshift.server.stores.keys import ApiKey, KeyStore
from rigshift.server.stores.usage import UsageStore


def key_record(key: ApiKey) -> dict[str, Any]:
    """A key as the API shows it (never its secret or hash)."""
    data = asdict(key)
    data.pop("extra", None)
    data["allowed_models"] = list(key.allowed_models)
    return data


class LocalControlPlane:
    """The database directly: what the CLI uses without --server."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time):
        self.engine = engine
        self.clock = clock
        # No gateway runs in this process, so no auth cache to tell of a revocation: a server on
        # the same database reads the revocation from the table.
        self.keys = KeysService(KeyStore(engine), clock, on_revoked=lambda _key_id: None)

    def create_key(self, request: KeyCreate) -> dict[str, Any]:
        key, secret = anyio.run(self.keys.create, request)
        return {**key_record(key), "key": secret}

    def list_keys(self) -> list[dict[str, Any]]:
        return [key_record(k) for k in anyio.run(self.keys.list)]

    def revoke_key(self, id_or_name: str) -> dict[str, Any]:
        return key_record(anyio.run(self.keys.revoke, id_or_name))

    def usage(self, query: UsageQuery) -> list[dict[str, Any]]:
        _start, rows = summarise_usage(
            UsageStore(self.engine),
            query.by,
            query.since,
            self.clock(),
            price_prompt=query.price_prompt,
            price_completion=query.price_completion,
        )
        return [asdict(r) for r in rows]

    def create_energy_event(self, event: EventRequest) -> dict[str, Any]:
        from rigshift.server.stores.energy_events import EnergyEventStore

        now = self.clock()
        start = now if event.start is None else event.start
        stored = EnergyEventStore(self.engine).create(
            event.site, start, event.end, shed_kw=event.shed_kw, target_kw=event.target_kw, now=now
        )
        return stored.as_json()

    def energy_events(self, site: str | None = None) -> list[dict[str, Any]]:
        from rigshift.server.stores.energy_events import EnergyEventStore

        return [e.as_json() for e in EnergyEventStore(self.engine).recent(site=site)]

    def apply_deployment(self, specs: list[ReplicaSpec]) -> list[dict[str, Any]]:
        raise InputError(
            "applying a deployment needs a running server (its reconciler starts the replicas)",
            field="--server",
            expected="the control plane's URL, e.g. http://127.0.0.1:8000",
        )
