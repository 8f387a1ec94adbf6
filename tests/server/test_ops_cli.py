"""`rigshift ops …`: the same actions as the console, through a running server's API and on the
database directly, each in the one audit log."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from rigshift.server.db import open_engine
from rigshift.server.fleet_view import HOT_GPU_C
from rigshift.server.stores.alerts import AlertStore
from rigshift.server.stores.keys import KeyStore

from .test_cli import run
from .test_operator import DEMAND, keys, server, telemetry

__all__ = ["server"]  # the running control plane these tests drive (a fixture)

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "demand" / "small-test.yaml")


def test_drain_demand_alerts_and_audit_through_the_api(server, engine):
    admin, _tenant, secret = keys(engine)
    remote = ("--server", server.url, "--admin-key", secret)
    code, out = run("ops", "drain", "rig-a", "--reason", "fans", *remote)
    assert code == 0 and "rig rig-a drained by ops-admin" in out
    code, out = run("ops", "drains", "--json", *remote)
    assert [(d["rig"], d["reason"]) for d in json.loads(out)["data"]] == [("rig-a", "fans")]
    code, out = run("ops", "undrain", "rig-a", *remote)
    assert code == 0 and "rig rig-a undrained" in out

    code, out = run("ops", "demand", EXAMPLE, "--json", *remote)
    dry = json.loads(out)
    assert code == 0 and dry["dry_run"] and dry["replicas"]
    assert httpx.get(server.url + "/admin/deployments", headers=admin).json()["data"] == []
    code, out = run("ops", "demand", EXAMPLE, "--apply", *remote)
    assert code == 0 and f"applied: {len(dry['replicas'])} replica(s)" in out
    assert len(httpx.get(server.url + "/admin/deployments", headers=admin).json()["data"]) == len(
        dry["replicas"]
    )

    telemetry(server.url, "rig-a", HOT_GPU_C + 3)
    code, out = run("ops", "alerts", "--json", *remote)
    [hot] = [a for a in json.loads(out)["data"] if a["rule"] == "hot_gpu"]
    code, out = run("ops", "ack", hot["id"], *remote)
    assert code == 0 and "acknowledged by ops-admin" in out

    code, out = run("ops", "audit", "--json", *remote)
    assert [(e["action"], e["actor"]) for e in json.loads(out)["data"]] == [
        ("alert.ack", "ops-admin"),
        ("demand.apply", "ops-admin"),
        ("demand.dry_run", "ops-admin"),
        ("rig.undrain", "ops-admin"),
        ("rig.drain", "ops-admin"),
    ]


def test_a_bad_demand_file_is_named_with_its_line_and_nothing_is_stored(server, engine, tmp_path):
    admin, _tenant, secret = keys(engine)
    bad = tmp_path / "demand.yaml"
    bad.write_text(DEMAND.replace("model: qwen2.5-1.5b", "modle: qwen2.5-1.5b"))
    code, out = run("ops", "demand", str(bad), "--apply", "--server", server.url, "--admin-key", secret)
    assert code == 2 and "demand.yaml" in out and "modle" in out and "Traceback" not in out
    assert httpx.get(server.url + "/admin/audit", headers=admin).json()["data"] == []


def test_on_the_database_the_log_names_the_local_user_and_drains_need_the_server(tmp_path):
    db = str(tmp_path / "rigshift.db")
    engine = open_engine(db)
    KeyStore(engine).create("acme", now=time.time())
    [alert] = AlertStore(engine).sync([_Held("rig_lost", "rig-9")], time.time())
    assert run("keys", "revoke", "acme", "--db", db)[0] == 0
    code, out = run("ops", "ack", alert.id, "--db", db)
    assert code == 0 and "acknowledged by local CLI" in out
    code, out = run("ops", "alerts", "--history", "--json", "--db", db)
    assert json.loads(out)["data"][0]["acked_by"].startswith("local CLI (")
    code, out = run(
        "energy", "event", "--site", "tx", "--end", str(time.time() + 3600), "--shed-kw", "5", "--db", db
    )
    event = json.loads(out)
    code, out = run("ops", "end-event", event["id"], "--db", db)
    assert code == 0 and f"event {event['id']} at tx ended" in out
    code, out = run("ops", "audit", "--json", "--db", db)
    assert [e["action"] for e in json.loads(out)["data"]] == [
        "event.end",
        "event.start",
        "alert.ack",
        "key.revoke",
    ]
    code, out = run("ops", "drain", "rig-9", "--db", db)
    assert code == 2 and "needs a running server" in out and "--server" in out
    assert len(json.loads(run("ops", "audit", "--json", "--db", db)[1])["data"]) == 4  # nothing logged


class _Held:
    def __init__(self, rule: str, subject: str):
        self.rule, self.subject, self.severity, self.message = rule, subject, "critical", "gone"
