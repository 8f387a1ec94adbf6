"""A control plane with a small demo fleet on loopback, for the console's API tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from rigshift.fleet.demo import demo_fleet
from rigshift.run.contracts import ReplicaEndpoint
from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.fleet_source import FleetSource
from rigshift.server.serving import serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.keys import KeyStore

from .helpers import Plane

JOIN_TOKEN = "join-token-for-console-tests"


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plane]:
    engine = open_engine(str(tmp_path_factory.mktemp("console") / "rigshift.db"))
    _key, admin = KeyStore(engine).create("admin", now=time.time(), admin=True)
    replica = ReplicaEndpoint(
        replica_id="r0",
        deployment="dep",
        model="tiny",
        base_url="http://127.0.0.1:9",  # never called: these tests do not serve tokens
        rig="rig-x",
        gpus=("rig-x/0",),
        state="ready",
    )
    settings = ServerSettings(join_token=JOIN_TOKEN, telemetry_stale_s=30.0)
    fleet = FleetSource(lambda: demo_fleet(scale=60), "demo farm, 60 GPUs")
    app = create_app(StaticDirectory([replica]), settings, engine=engine, fleet=fleet)
    server = serve_in_thread(app)
    yield Plane(server, engine, admin)
    server.stop()


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    """Playwright's driver (from its wheel), for the browser tests' Debian Chromium (chromium.py)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p
