"""The console tests' handle on a running control plane."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine

from rigshift.server.serving import BackgroundServer
from rigshift.server.stores.keys import KeyStore


@dataclass
class Plane:
    server: BackgroundServer
    engine: Engine
    admin_key: str

    @property
    def url(self) -> str:
        return self.server.url

    def key(self, name: str, **limits: object) -> tuple[str, str]:
        key, secret = KeyStore(self.engine).create(name, now=time.time(), **limits)  # type: ignore[arg-type]
        return key.id, secret

    def login(self, key: str) -> tuple[httpx.Client, str]:
        """A client holding a console session, and the session's CSRF token."""
        client = httpx.Client(base_url=self.url, timeout=30)
        response = client.post("/console/login", json={"key": key})
        assert response.status_code == 200, response.text
        return client, response.json()["csrf_token"]


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}
