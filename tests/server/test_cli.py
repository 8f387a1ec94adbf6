"""`rigshift keys` and `rigshift usage` on a real database file, and through the API."""

from __future__ import annotations

import json
import time

from typer.testing import CliRunner

from rigshift.cli.app import app
from rigshift.server.db import open_engine
from rigshift.server.keys import KeyStore
from rigshift.server.usage import UsageRecord, UsageStore

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
    assert code == 4 and "403" in out
