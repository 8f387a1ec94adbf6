"""Fixtures: a real SQLite database per test, fake OpenAI backends and the gateway on loopback."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest
from sqlalchemy import Engine, create_engine

from rigshift.run.contracts import ReplicaEndpoint
from rigshift.server.app import create_app
from rigshift.server.db import normalise_url, open_engine
from rigshift.server.serving import BackgroundServer, free_port, serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.keys import KeyStore

from .fake_backend import FakeBackendState, create_fake_backend

JOIN_TOKEN = "join-token-for-tests"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """SQLite in a temp dir; with RIGSHIFT_TEST_POSTGRES_URL set, a fresh PostgreSQL database per
    test instead, so the same tests run on both (`pip install 'psycopg[binary]'` for that)."""
    server_url = os.environ.get("RIGSHIFT_TEST_POSTGRES_URL")
    if not server_url:
        yield open_engine(str(tmp_path / "rigshift.db"))
        return
    name = f"rs_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine = open_engine(server_url.rsplit("/", 1)[0] + "/" + name)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        admin.dispose()


@dataclass
class Backend:
    state: FakeBackendState
    server: BackgroundServer

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def backends() -> Iterator[Callable[..., Backend]]:
    started: list[BackgroundServer] = []

    def start(**state: object) -> Backend:
        fake = FakeBackendState(**state)  # type: ignore[arg-type]
        server = serve_in_thread(create_fake_backend(fake))
        started.append(server)
        return Backend(fake, server)

    yield start
    for server in started:
        server.stop()


def replica(
    replica_id: str,
    url: str,
    *,
    model: str = "tiny",
    parallel: int = 2,
    context: int = 4096,
    rig: str = "rig-a",
    watts: float | None = 120.0,
) -> ReplicaEndpoint:
    return ReplicaEndpoint(
        replica_id=replica_id,
        deployment="dep",
        model=model,
        base_url=url,
        rig=rig,
        gpus=(f"{rig}/0",),
        state="ready",
        max_parallel=parallel,
        context=context,
        watts=watts,
    )


def dead_url() -> str:
    """A loopback port nothing listens on: connecting fails at once."""
    return f"http://127.0.0.1:{free_port()}"


@dataclass
class Gateway:
    server: BackgroundServer
    engine: Engine
    directory: StaticDirectory

    @property
    def url(self) -> str:
        return self.server.url

    def key(self, name: str = "tenant", **limits: object) -> str:
        _key, secret = KeyStore(self.engine).create(name, now=time.time(), **limits)  # type: ignore[arg-type]
        return secret

    def client(self, key: str, **kwargs: object) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def gateway(engine: Engine, tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    started: list[BackgroundServer] = []

    def start(replicas: list[ReplicaEndpoint], **settings: object) -> Gateway:
        directory = StaticDirectory(replicas, cooldown_s=float(settings.pop("cooldown_s", 60.0)))  # type: ignore[arg-type]
        options = {
            "join_token": JOIN_TOKEN,
            "telemetry_flush_s": 0.2,
            "files_dir": str(tmp_path / "files"),  # Batch API file bytes, beside the test's database
            **settings,
        }
        app = create_app(directory, ServerSettings(**options), engine=engine)  # type: ignore[arg-type]
        server = serve_in_thread(app)
        started.append(server)
        return Gateway(server, engine, directory)

    yield start
    for server in started:
        server.stop()
