"""`ControlPlane`: what the CLI asks of a control plane, over its database or over HTTP.

`rigshift keys …`, `rigshift usage`, `rigshift deploy`, `rigshift energy event(s)` and
`rigshift ops …` (alerts, audit, drains, demand, bench) each have one code path: they call a
`ControlPlane`, which is `LocalControlPlane` (the database directly; no server needed) or
`RemoteControlPlane` (a running server's management API with an admin key). Both return the same
plain records (the API's JSON), so what a command prints does not depend on where it came from.
`RemoteControlPlane` is the one HTTP client (`ControlPlaneClient`) with an admin key; its
transport is injected (`transport=`; the CLI's commands take theirs from the click context's
object, see `cli/options.py`), so tests run it against a fake API or the app in-process.
`LocalControlPlane` (`local.py`) calls the server's services on the database.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from rigshift.client.http import ControlPlaneClient
from rigshift.errors import InputError
from rigshift.run.spec import ReplicaSpec, to_dict
from rigshift.server.schemas import KeyCreate


@dataclass(frozen=True)
class UsageQuery:
    """`rigshift usage`: group by key, model or rig, since a time, at these token prices."""

    by: str = "key"
    since: str | None = None
    price_prompt: float | None = None
    price_completion: float | None = None


@dataclass(frozen=True)
class EventRequest:
    """A demand-response event: shed `shed_kw` or stay under `target_kw` at `site` from `start`
    (None: now) to `end` (unix seconds)."""

    site: str
    end: float
    start: float | None = None
    shed_kw: float | None = None
    target_kw: float | None = None


class ControlPlane(Protocol):
    def create_key(self, request: KeyCreate) -> dict[str, Any]:
        """The new key's record, with its secret under "key" (shown this once)."""
        ...

    def list_keys(self) -> list[dict[str, Any]]: ...

    def revoke_key(self, id_or_name: str) -> dict[str, Any]: ...

    def usage(self, query: UsageQuery) -> list[dict[str, Any]]: ...

    def apply_deployment(self, specs: list[ReplicaSpec]) -> list[dict[str, Any]]: ...

    def create_energy_event(self, event: EventRequest) -> dict[str, Any]:
        """The event as `GET /admin/energy/events` lists it."""
        ...

    def energy_events(self, site: str | None = None) -> list[dict[str, Any]]: ...

    def end_energy_event(self, event_id: str) -> dict[str, Any]: ...

    def alerts(
        self, *, history: bool = False, rule: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Firing alerts (the server evaluates its rules first), or every alert with `history`."""
        ...

    def acknowledge_alert(self, alert_id: str) -> dict[str, Any]: ...

    def audit(self, *, limit: int = 200, action: str | None = None) -> list[dict[str, Any]]: ...

    def drains(self) -> list[dict[str, Any]]: ...

    def drain(self, rig: str, reason: str = "") -> dict[str, Any]: ...

    def undrain(self, rig: str) -> dict[str, Any]: ...

    def apply_demand(self, demand_yaml: str, *, dry_run: bool, allow_partial: bool = False) -> dict[str, Any]:
        """The demand planned on the server's fleet: the replicas, applied unless `dry_run`."""
        ...

    def start_bench(self, rig: str, models: list[str] | None = None) -> dict[str, Any]:
        """The bench's audit entry (`started`; `rigshift ops audit` shows how it ended)."""
        ...


def admin_client(
    url: str, admin_key: str | None, *, transport: httpx.BaseTransport | None = None, timeout: float = 30.0
) -> ControlPlaneClient:
    """The control plane at `url` with an admin key (`--server` without `--admin-key` is exit 2)."""
    if not admin_key:
        raise InputError(
            "--server needs an admin key", field="--admin-key", expected="a key made with --admin"
        )
    return ControlPlaneClient(url, admin_key, transport=transport, timeout=timeout)


class RemoteControlPlane:
    """A running server's management API, with an admin key."""

    def __init__(self, url: str, admin_key: str | None, *, transport: httpx.BaseTransport | None = None):
        self._client = admin_client(url, admin_key, transport=transport)
        self.url = self._client.url

    def close(self) -> None:
        self._client.close()

    def create_key(self, request: KeyCreate) -> dict[str, Any]:
        return dict(self._client.call("POST", "/admin/keys", json_body=request.model_dump()))

    def list_keys(self) -> list[dict[str, Any]]:
        return list(self._client.call("GET", "/admin/keys")["data"])

    def revoke_key(self, id_or_name: str) -> dict[str, Any]:
        # Escaped: `keys revoke 'acme?typo'` must name the key "acme?typo", not revoke "acme".
        return dict(self._client.call("DELETE", "/admin/keys/" + quote(id_or_name, safe="")))

    def usage(self, query: UsageQuery) -> list[dict[str, Any]]:
        return list(self._client.call("GET", "/admin/usage", params=asdict(query))["data"])

    def apply_deployment(self, specs: list[ReplicaSpec]) -> list[dict[str, Any]]:
        return list(
            self._client.call("PUT", "/admin/deployments", json_body=[to_dict(s) for s in specs])["data"]
        )

    def create_energy_event(self, event: EventRequest) -> dict[str, Any]:
        return dict(self._client.call("POST", "/admin/energy/events", json_body=asdict(event)))

    def energy_events(self, site: str | None = None) -> list[dict[str, Any]]:
        return list(self._client.call("GET", "/admin/energy/events", params={"site": site})["data"])

    def end_energy_event(self, event_id: str) -> dict[str, Any]:
        return dict(self._client.call("DELETE", "/admin/energy/events/" + quote(event_id, safe="")))

    def alerts(
        self, *, history: bool = False, rule: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        params = {"state": "history" if history else "active", "rule": rule, "limit": limit}
        return list(self._client.call("GET", "/admin/alerts", params=params)["data"])

    def acknowledge_alert(self, alert_id: str) -> dict[str, Any]:
        return dict(self._client.call("POST", f"/admin/alerts/{quote(alert_id, safe='')}/ack"))

    def audit(self, *, limit: int = 200, action: str | None = None) -> list[dict[str, Any]]:
        return list(
            self._client.call("GET", "/admin/audit", params={"limit": limit, "action": action})["data"]
        )

    def drains(self) -> list[dict[str, Any]]:
        return list(self._client.call("GET", "/admin/drains")["data"])

    def drain(self, rig: str, reason: str = "") -> dict[str, Any]:
        return dict(
            self._client.call(
                "POST", f"/admin/rigs/{quote(rig, safe='')}/drain", json_body={"reason": reason}
            )
        )

    def undrain(self, rig: str) -> dict[str, Any]:
        return dict(self._client.call("POST", f"/admin/rigs/{quote(rig, safe='')}/undrain"))

    def apply_demand(self, demand_yaml: str, *, dry_run: bool, allow_partial: bool = False) -> dict[str, Any]:
        body = {"demand": demand_yaml, "dry_run": dry_run, "allow_partial": allow_partial}
        return dict(self._client.call("POST", "/admin/demand", json_body=body, timeout=300))

    def start_bench(self, rig: str, models: list[str] | None = None) -> dict[str, Any]:
        body = {"models": models}
        return dict(self._client.call("POST", f"/admin/rigs/{quote(rig, safe='')}/bench", json_body=body))


def control_plane(
    server: str | None, admin_key: str | None, db: str | None, *, transport: httpx.BaseTransport | None = None
) -> ControlPlane:
    """`--server URL` (with `--admin-key`): the remote API; else the database at `--db`."""
    if server:
        return RemoteControlPlane(server, admin_key, transport=transport)
    from rigshift.client.local import LocalControlPlane
    from rigshift.server.db import open_engine

    return LocalControlPlane(open_engine(db))
