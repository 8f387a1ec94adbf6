"""`LocalControlPlane`: the management commands without a server, over its database, through
the server's own services (the same rules as over HTTP: a key created here is the key the API
would create, a key revoked here is written to the same audit log, by "local CLI (user)").

What needs the running server's memory (drains the gateway obeys, a demand applied through the
reconciler, a bench through the cluster) refuses here and asks for --server."""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import anyio
from sqlalchemy import Engine

from rigshift.client.control_plane import EventRequest, UsageQuery
from rigshift.errors import InputError
from rigshift.run.spec import ReplicaSpec
from rigshift.server.alert_rules import AlertLimits
from rigshift.server.schemas import KeyCreate
from rigshift.server.services.alerts import AlertsService, alert_json
from rigshift.server.services.energy import EnergyApiService
from rigshift.server.services.keys import KeysService
from rigshift.server.services.operator import Actor, OperatorService
from rigshift.server.services.usage import summarise_usage
from rigshift.server.stores.alerts import AlertStore
from rigshift.server.stores.audit import AuditLog, DrainStore
from rigshift.server.stores.energy_events import EnergyEventStore
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
        # No energy loop and no rule evaluation here: the events and alerts as stored.
        self.alert_service = AlertsService(AlertStore(engine), clock, AlertLimits())
        self.energy = EnergyApiService(EnergyEventStore(engine), clock)
        self.operator = OperatorService(
            AuditLog(engine),
            DrainStore(engine),
            clock,
            keys=self.keys,
            energy=self.energy,
            alerts=self.alert_service,
        )
        self.actor = Actor(f"local CLI ({_user()})")

    def create_key(self, request: KeyCreate) -> dict[str, Any]:
        key, secret = anyio.run(self.keys.create, request)
        return {**key_record(key), "key": secret}

    def list_keys(self) -> list[dict[str, Any]]:
        return [key_record(k) for k in anyio.run(self.keys.list)]

    def revoke_key(self, id_or_name: str) -> dict[str, Any]:
        return key_record(anyio.run(self.operator.revoke_key, self.actor, id_or_name))

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
        stored = anyio.run(
            lambda: self.operator.start_event(
                self.actor, event.site, event.start, event.end, event.shed_kw, event.target_kw
            )
        )
        return stored.as_json()

    def energy_events(self, site: str | None = None) -> list[dict[str, Any]]:
        return [e.as_json() for e in anyio.run(self.energy.list_events, site, 100)]

    def end_energy_event(self, event_id: str) -> dict[str, Any]:
        return anyio.run(self.operator.end_event, self.actor, event_id).as_json()

    def alerts(
        self, *, history: bool = False, rule: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        if history:
            found = anyio.run(self.alert_service.history, limit, rule)
        else:
            found = [a for a in anyio.run(self.alert_service.active) if rule is None or a.rule == rule]
        return [alert_json(a) for a in found]

    def acknowledge_alert(self, alert_id: str) -> dict[str, Any]:
        return alert_json(anyio.run(self.operator.acknowledge, self.actor, alert_id))

    def audit(self, *, limit: int = 200, action: str | None = None) -> list[dict[str, Any]]:
        return [e.as_json() for e in anyio.run(self.operator.log, limit, action)]

    def drains(self) -> list[dict[str, Any]]:
        return [d.as_json() for d in anyio.run(self.operator.load_drains)]

    def drain(self, rig: str, reason: str = "") -> dict[str, Any]:
        raise _needs_server("draining a rig (the running gateway stops sending it requests)")

    def undrain(self, rig: str) -> dict[str, Any]:
        raise _needs_server("undraining a rig (the running gateway sends it requests again)")

    def apply_demand(self, demand_yaml: str, *, dry_run: bool, allow_partial: bool = False) -> dict[str, Any]:
        raise _needs_server("planning a demand on the server's fleet")

    def start_bench(self, rig: str, models: list[str] | None = None) -> dict[str, Any]:
        raise _needs_server("a bench through the rig's agent")

    def apply_deployment(self, specs: list[ReplicaSpec]) -> list[dict[str, Any]]:
        raise _needs_server("applying a deployment (its reconciler starts the replicas)")


def _needs_server(what: str) -> InputError:
    return InputError(
        f"{what} needs a running server",
        field="--server",
        expected="the control plane's URL, e.g. http://127.0.0.1:8000",
    )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container's uid without a passwd entry)
        return "unknown user"
