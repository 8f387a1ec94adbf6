"""Schema-driven fuzzing of every route (schemathesis): no input gets a 500 or a non-OpenAI error.

Schemathesis generates valid and invalid requests (bodies, paths, query strings) from the
server's own OpenAPI document, admin and OpenAI routes alike, and sends them to a real server on
loopback with a fake backend behind it and a real SQLite database. Any 500, or any 4xx/5xx whose
body is not OpenAI's error shape, fails the test with the request that caused it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis  # a dev dependency (pyproject): a missing one fails loudly, never skips
from hypothesis import HealthCheck, settings

from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.serving import serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.keys import KeyStore

from .conftest import replica
from .fake_backend import FakeBackendState, create_fake_backend

pytestmark = pytest.mark.slow

JOIN = "fuzz-join-token"
# Per operation: 60 gives ~3,600 requests over the 20 operations (valid and invalid) in about two
# minutes on 2 shared cores; RIGSHIFT_FUZZ_EXAMPLES=1000 for a deep run.
EXAMPLES = int(os.environ.get("RIGSHIFT_FUZZ_EXAMPLES", "60"))


class _Manager:
    def __init__(self) -> None:
        self.desired: list = []

    def apply(self, specs: list) -> None:
        self.desired = list(specs)


class Target:
    def __init__(self, root: Path):
        self.backend = serve_in_thread(create_fake_backend(FakeBackendState()))
        engine = open_engine(str(root / "fuzz.db"))
        directory = StaticDirectory([replica("r1", self.backend.url, parallel=64, context=1_000_000)])
        settings_ = ServerSettings(
            join_token=JOIN,
            model_store_dir=str(root / "store"),
            max_upload_bytes=1024 * 1024,
            public_docs=True,
        )
        self.app = create_app(directory, settings_, engine=engine, manager=_Manager())  # type: ignore[arg-type]
        self.server = serve_in_thread(self.app)
        self.admin = KeyStore(engine).create("fuzz-admin", now=time.time(), admin=True)[1]
        self.statuses: dict[int, int] = {}

    def close(self) -> None:
        self.server.stop()
        self.backend.stop()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    t = Target(tmp_path_factory.mktemp("fuzz"))
    yield t
    t.close()
    print("fuzz responses by status:", dict(sorted(t.statuses.items())))


def _schema() -> dict:
    # The document the running server serves at /openapi.json (built the same way, offline).
    app = create_app(StaticDirectory([]), ServerSettings(public_docs=True), engine=open_engine(_schema_db()))
    return app.openapi()


def _schema_db() -> str:
    import tempfile

    return str(Path(tempfile.mkdtemp(prefix="rigshift-fuzz-")) / "schema.db")


schema = schemathesis.openapi.from_dict(_schema())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_request_gets_a_500_or_a_non_openai_error(case, target):
    token = JOIN if case.path.startswith("/internal") else target.admin
    response = case.call(base_url=target.server.url, headers={"authorization": f"Bearer {token}"}, timeout=30)
    target.statuses[response.status_code] = target.statuses.get(response.status_code, 0) + 1
    assert response.status_code != 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
    if response.status_code >= 400 and case.path == "/v1/messages" and case.method == "POST":
        # The route answers in Anthropic's shape (what came before it, a 413, in OpenAI's).
        body = json.loads(response.text)
        if body.get("type") == "error":
            assert set(body["error"]) == {"type", "message"}, response.text[:300]
            assert response.status_code < 500 or "backend" in body["error"]["message"], response.text[:300]
            return
    if response.status_code >= 400:
        body = json.loads(response.text)
        assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code", "param"}, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
        )
        # The gateway's own refusals are 4xx; 5xx only for a backend or database failing.
        assert response.status_code < 500 or body["error"]["code"] in {
            "backend_unavailable",
            "backend_error",
            "no_ready_replica",
            "usage_store_unavailable",
        }, response.text[:300]
