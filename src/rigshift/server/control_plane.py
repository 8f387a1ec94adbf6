"""`ControlPlane`: what the CLI asks of a control plane, over its database or over HTTP.

`rigshift keys …`, `rigshift usage`, `rigshift deploy` and `rigshift energy event(s)` each have
one code path: they call a
`ControlPlane`, which is `LocalControlPlane` (the database directly; no server needed) or
`RemoteControlPlane` (a running server's management API with an admin key). Both return the same
plain records (the API's JSON), so what a command prints does not depend on where it came from.
`RemoteControlPlane` takes an httpx transport, so tests run it against the app in-process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from sqlalchemy import Engine

from rigshift.errors import BackendError, InputError
from rigshift.run.spec import ReplicaSpec, to_dict
from rigshift.server.errors import ApiError
from rigshift.server.schemas import KeyCreate
from rigshift.server.services.usage import summarise_usage
from rigshift.server.stores.keys import ApiKey, KeyStore
from rigshift.server.stores.usage import UsageStore


class ControlPlane(Protocol):
    def create_key(self, request: KeyCreate) -> dict[str, Any]:
        """The new key's record, with its secret under "key" (shown this once)."""
        ...

    def list_keys(self) -> list[dict[str, Any]]: ...

    def revoke_key(self, id_or_name: str) -> dict[str, Any]: ...

    def usage(
        self,
        by: str,
        since: str | None = None,
        *,
        price_prompt: float | None = None,
        price_completion: float | None = None,
    ) -> list[dict[str, Any]]: ...

    def apply_deployment(self, specs: list[ReplicaSpec]) -> list[dict[str, Any]]: ...

    def create_energy_event(
        self,
        site: str,
        start: float | None,
        end: float,
        shed_kw: float | None,
        target_kw: float | None,
    ) -> dict[str, Any]:
        """A demand-response event (`start` None: now), as `GET /admin/energy/events` lists it."""
        ...

    def energy_events(self, site: str | None = None) -> list[dict[str, Any]]: ...


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

    def create_key(self, request: KeyCreate) -> dict[str, Any]:
        key, secret = KeyStore(self.engine).create(
            request.name,
            now=self.clock(),
            admin=request.admin,
            allowed_models=request.allowed_models,
            token_quota=request.token_quota,
            quota_period=request.quota_period,
            rate_limit_rpm=request.rate_limit_rpm,
        )
        return {**key_record(key), "key": secret}

    def list_keys(self) -> list[dict[str, Any]]:
        return [key_record(k) for k in KeyStore(self.engine).list()]

    def revoke_key(self, id_or_name: str) -> dict[str, Any]:
        return key_record(KeyStore(self.engine).revoke(id_or_name, now=self.clock()))

    def usage(
        self,
        by: str,
        since: str | None = None,
        *,
        price_prompt: float | None = None,
        price_completion: float | None = None,
    ) -> list[dict[str, Any]]:
        _start, rows = summarise_usage(
            UsageStore(self.engine),
            by,
            since,
            self.clock(),
            price_prompt=price_prompt,
            price_completion=price_completion,
        )
        return [asdict(r) for r in rows]

    def create_energy_event(
        self,
        site: str,
        start: float | None,
        end: float,
        shed_kw: float | None,
        target_kw: float | None,
    ) -> dict[str, Any]:
        from rigshift.server.stores.energy_events import EnergyEventStore

        now = self.clock()
        event = EnergyEventStore(self.engine).create(
            site, now if start is None else start, end, shed_kw=shed_kw, target_kw=target_kw, now=now
        )
        return event.as_json()

    def energy_events(self, site: str | None = None) -> list[dict[str, Any]]:
        from rigshift.server.stores.energy_events import EnergyEventStore

        return [e.as_json() for e in EnergyEventStore(self.engine).recent(site=site)]

    def apply_deployment(self, specs: list[ReplicaSpec]) -> list[dict[str, Any]]:
        raise InputError(
            "applying a deployment needs a running server (its reconciler starts the replicas)",
            field="--server",
            expected="the control plane's URL, e.g. http://127.0.0.1:8000",
        )


# The transport every RemoteControlPlane uses unless given one (tests put an httpx.MockTransport
# here to run CLI commands against a fake API).
DEFAULT_TRANSPORT: httpx.BaseTransport | None = None


class RemoteControlPlane:
    """A running server's management API, with an admin key."""

    def __init__(
        self,
        url: str,
        admin_key: str | None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ):
        if not admin_key:
            raise InputError(
                "--server needs an admin key", field="--admin-key", expected="a key made with --admin"
            )
        self.url = url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.url,
            headers={"authorization": f"Bearer {admin_key}"},
            transport=transport or DEFAULT_TRANSPORT,
            timeout=timeout,
        )

    def close(self) -> None:
        self._client.close()

    def _call(
        self, method: str, path: str, *, json_body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        try:
            response = self._client.request(
                method,
                path,
                content=None if json_body is None else json.dumps(json_body).encode(),
                headers={"content-type": "application/json"} if json_body is not None else None,
                params={k: v for k, v in (params or {}).items() if v is not None},
            )
        except httpx.HTTPError as error:
            raise BackendError(f"cannot reach the control plane at {self.url}: {error}") from error
        if response.status_code >= 400:
            try:
                refusal = response.json()["error"]
                message, code = str(refusal["message"]), refusal.get("code")
            except (ValueError, KeyError, TypeError):
                message, code = response.text[:300], None
            if response.status_code < 500:  # the request was refused: the caller's input, exit 2
                raise ApiError(
                    f"{self.url}{path}: HTTP {response.status_code}: {message}",
                    code=code,
                    status=response.status_code,
                )
            raise BackendError(f"{self.url}{path}: HTTP {response.status_code}: {message}")
        return response.json()

    def create_key(self, request: KeyCreate) -> dict[str, Any]:
        return dict(self._call("POST", "/admin/keys", json_body=request.model_dump()))

    def list_keys(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/admin/keys")["data"])

    def revoke_key(self, id_or_name: str) -> dict[str, Any]:
        # Escaped: `keys revoke 'acme?typo'` must name the key "acme?typo", not revoke "acme".
        return dict(self._call("DELETE", "/admin/keys/" + quote(id_or_name, safe="")))

    def usage(
        self,
        by: str,
        since: str | None = None,
        *,
        price_prompt: float | None = None,
        price_completion: float | None = None,
    ) -> list[dict[str, Any]]:
        params = {
            "by": by,
            "since": since,
            "price_prompt": price_prompt,
            "price_completion": price_completion,
        }
        return list(self._call("GET", "/admin/usage", params=params)["data"])

    def apply_deployment(self, specs: list[ReplicaSpec]) -> list[dict[str, Any]]:
        return list(self._call("PUT", "/admin/deployments", json_body=[to_dict(s) for s in specs])["data"])

    def create_energy_event(
        self,
        site: str,
        start: float | None,
        end: float,
        shed_kw: float | None,
        target_kw: float | None,
    ) -> dict[str, Any]:
        body = {"site": site, "shed_kw": shed_kw, "target_kw": target_kw, "start": start, "end": end}
        return dict(self._call("POST", "/admin/energy/events", json_body=body))

    def energy_events(self, site: str | None = None) -> list[dict[str, Any]]:
        return list(self._call("GET", "/admin/energy/events", params={"site": site})["data"])


def control_plane(
    server: str | None, admin_key: str | None, db: str | None, *, transport: httpx.BaseTransport | None = None
) -> ControlPlane:
    """`--server URL` (with `--admin-key`): the remote API; else the database at `--db`."""
    if server:
        return RemoteControlPlane(server, admin_key, transport=transport)
    from rigshift.server.db import open_engine

    return LocalControlPlane(open_engine(db))
