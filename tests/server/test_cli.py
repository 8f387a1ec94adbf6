"""`rigshift keys` and `rigshift usage` on a real database file, and through the API."""

from __future__ import annotations

import json
import time

from typer.testing import CliRunner

from rigshift.cli.app import app
from rigshift.server.db import open_engine
from rigshift.server.stores.keys import KeyStore
from rigshift.server.stores.usage import UsageRecord, UsageStore

from .conftest import replica

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_keys_create_list_revoke_on_the_database(tmp_path):
    db = str(tmp_path / "cli.db")
    code, out = run(
        "keys",
        "create",
        "alice",
        "--model",
        "tiny",
        "--quota",
        "1000",
        "--period",
        "day",
        "--rpm",
        "60",
        "--db",
        db,
        "--json",
    )
    assert code == 0
    created = json.loads(out)
    assert created["key"].startswith("rs-") and created["allowed_models"] == ["tiny"]
    assert KeyStore(__import__("rigshift.server.db", fromlist=["x"]).open_engine(db)).authenticate(
        created["key"]
    )

    code, out = run("keys", "list", "--db", db, "--json")
    assert code == 0 and created["key"] not in out
    assert json.loads(out)[0]["token_quota"] == 1000

    code, out = run("keys", "revoke", "alise", "--db", db)
    assert code == 2 and "did you mean: alice" in out
    code, out = run("keys", "revoke", "alice", "--db", db)
    assert code == 0 and "revoked" in out
    code, out = run("keys", "create", "x", "--period", "week", "--db", db)
    assert code == 2 and "expected day or month" in out and "Traceback" not in out


def test_usage_report_groups_and_rejects_bad_options(tmp_path):
    db = str(tmp_path / "u.db")

    UsageStore(open_engine(db)).insert_many(
        [
            UsageRecord(
                id=f"r{i}",
                created_at=time.time(),
                key_id="k1",
                endpoint="chat",
                model=m,
                replica_id="x",
                rig="rig-a",
                gpus=("rig-a/0",),
                prompt_tokens=10,
                completion_tokens=20,
                duration_ms=5.0,
                energy_wh=0.01,
                status=200,
            )
            for i, m in enumerate(["llama", "llama", "qwen"])
        ]
    )
    code, out = run(
        "usage", "--by", "model", "--since", "1d", "--db", db, "--json", "--price-completion", "1000000"
    )
    assert code == 0
    rows = {r["group"]: r for r in json.loads(out)}
    assert rows["llama"]["requests"] == 2 and rows["llama"]["completion_tokens"] == 40
    assert rows["llama"]["revenue_usd"] > 40  # 40 tokens at $1/token, plus prompt tokens
    assert run("usage", "--by", "gpu", "--db", db)[0] == 2
    assert run("usage", "--since", "last week", "--db", db)[0] == 2


def test_keys_through_the_management_api(gateway, backends):
    gw = gateway([replica("r1", backends().url)])
    admin = gw.key("ops", admin=True)
    code, out = run("keys", "create", "dave", "--server", gw.url, "--admin-key", admin, "--json")
    assert code == 0 and json.loads(out)["name"] == "dave"
    code, out = run("keys", "list", "--server", gw.url, "--admin-key", admin, "--json")
    assert sorted(k["name"] for k in json.loads(out)) == ["dave", "ops"]
    code, out = run("keys", "list", "--server", gw.url, "--admin-key", gw.key("tenant"))
    # A refusal (here: not an admin key) is the caller's input: exit 2, the HTTP status named.
    assert code == 2 and "403" in out and "admin key" in out


def test_server_urls_are_escaped(gateway, backends):
    """Issue 13: `keys revoke 'acme?typo' --server …` revoked the key named acme."""
    gw = gateway([replica("r1", backends().url)])
    admin = gw.key("ops", admin=True)
    acme = gw.key("acme")
    code, out = run("keys", "revoke", "acme?typo", "--server", gw.url, "--admin-key", admin)
    assert code == 2 and "404" in out
    code, out = run("keys", "revoke", "../keys/acme", "--server", gw.url, "--admin-key", admin)
    assert code == 2
    assert KeyStore(gw.engine).authenticate(acme) is not None  # still active
    code, out = run("usage", "--by", "key&by=rig", "--server", gw.url, "--admin-key", admin)
    assert code == 2 and "by" in out


def test_remote_control_plane_takes_an_injected_transport():
    import httpx

    from rigshift.client.control_plane import RemoteControlPlane, UsageQuery

    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "DELETE":
            return httpx.Response(404, json={"error": {"message": "no API key", "type": "x", "code": None}})
        return httpx.Response(200, json={"data": [{"group": "rig-a"}]})

    plane = RemoteControlPlane("http://cp.example", "rs-admin", transport=httpx.MockTransport(answer))
    assert plane.usage(UsageQuery("rig", "7d", price_prompt=0.5)) == [{"group": "rig-a"}]
    assert seen[-1].url.path == "/admin/usage"
    assert dict(seen[-1].url.params) == {"by": "rig", "since": "7d", "price_prompt": "0.5"}
    assert seen[-1].headers["authorization"] == "Bearer rs-admin"
    from rigshift.client.http import Refused

    try:
        plane.revoke_key("a/b?c")
    except Refused as error:
        assert error.http_status == 404 and error.exit_code == 2
    else:
        raise AssertionError("a 404 must raise")
    assert seen[-1].url.raw_path == b"/admin/keys/a%2Fb%3Fc"
    # `rigshift energy events --server`: the site is a query parameter, escaped (not "?site=a&b").
    assert plane.energy_events("tx&ercot") == [{"group": "rig-a"}]
    assert seen[-1].url.path == "/admin/energy/events" and dict(seen[-1].url.params) == {"site": "tx&ercot"}


def test_up_demo_reuses_its_demo_key(tmp_path):
    from rigshift.server.launch import demo_key

    keys = KeyStore(open_engine(str(tmp_path / "d.db")))
    first = demo_key(keys, tmp_path, ["rigshift-tiny"])
    assert demo_key(keys, tmp_path, ["rigshift-tiny"]) == first
    assert [k.name for k in keys.list()] == ["demo"]
    assert oct((tmp_path / "demo-key").stat().st_mode & 0o777) == "0o600"
    keys.revoke("demo", now=time.time())  # revoked by hand: the next start makes a new one
    second = demo_key(keys, tmp_path, ["rigshift-tiny"])
    assert second != first and keys.authenticate(second) is not None
    assert len([k for k in keys.list() if not k.revoked]) == 1
    # A demo that serves more models (issue 21: embed and rerank) replaces a key that lacks them.
    third = demo_key(keys, tmp_path, ["rigshift-tiny", "rigshift-tiny-embed"])
    key = keys.authenticate(third)
    assert third != second and key is not None and key.allows("rigshift-tiny-embed")
    assert len([k for k in keys.list() if not k.revoked]) == 1
