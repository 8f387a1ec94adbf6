"""Deployments through the management API: stored plan, reconciler action log."""

from __future__ import annotations

import json

import httpx

from rigshift.run.manager import ActionRecord
from rigshift.run.spec import ModelSource, ReplicaSpec, to_dict
from rigshift.server.app import create_app
from rigshift.server.cluster import action_logger
from rigshift.server.serving import serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.deployments import DeploymentLog

from .conftest import replica

SPECS = [
    ReplicaSpec(
        "tiny-0",
        "tiny",
        "tiny",
        ModelSource("demo", "hi"),
        "rig-a",
        gpu_indices=(0, 1),
        tensor_split=(0.5, 0.5),
    ),
    ReplicaSpec("tiny-1", "tiny", "tiny", ModelSource("demo", "hi"), "rig-b"),
]


class FakeManager:
    """The two things the API uses of `ReplicaManager`."""

    def __init__(self) -> None:
        self.desired: list[ReplicaSpec] = []

    def apply(self, specs: list[ReplicaSpec]) -> None:
        if len({s.replica_id for s in specs}) != len(specs):
            raise ValueError("replica ids in a plan must be unique")
        self.desired = list(specs)


def test_put_deployments_applies_and_stores_the_plan(engine, gateway):
    from .conftest import Gateway

    manager = FakeManager()
    app = create_app(StaticDirectory([]), ServerSettings(join_token="t"), engine=engine, manager=manager)  # type: ignore[arg-type]
    server = serve_in_thread(app)
    try:
        gw = Gateway(server, engine, StaticDirectory([]))
        admin = {"authorization": f"Bearer {gw.key('ops', admin=True)}"}
        body = json.dumps([to_dict(s) for s in SPECS])
        r = httpx.put(server.url + "/admin/deployments", content=body, headers=admin)
        assert r.status_code == 202
        assert manager.desired == SPECS
        assert DeploymentLog(engine).load_desired() == SPECS  # survives a restart of the server
        assert (
            httpx.get(server.url + "/admin/deployments", headers=admin).json()["data"][0]["replica_id"]
            == "tiny-0"
        )

        duplicate = json.dumps([to_dict(SPECS[0])] * 2)
        bad = httpx.put(server.url + "/admin/deployments", content=duplicate, headers=admin)
        assert bad.status_code == 400 and "unique" in bad.json()["error"]["message"]
        assert DeploymentLog(engine).load_desired() == SPECS  # a rejected plan changes nothing
        both = json.dumps([{**to_dict(SPECS[0]), "embeddings": True, "reranking": True}])
        bad = httpx.put(server.url + "/admin/deployments", content=both, headers=admin)
        assert bad.status_code == 400 and "embeddings or rerank, not both" in bad.json()["error"]["message"]
        tenant = {"authorization": f"Bearer {gw.key('tenant')}"}
        assert httpx.put(server.url + "/admin/deployments", content=body, headers=tenant).status_code == 403
    finally:
        server.stop()


def test_static_servers_refuse_deployments(gateway, backends):
    gw = gateway([replica("r1", backends().url)])
    admin = {"authorization": f"Bearer {gw.key('ops', admin=True)}"}
    r = httpx.put(gw.url + "/admin/deployments", content="[]", headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_cluster"


def test_reconciler_actions_are_recorded_with_reasons(engine):
    manager = FakeManager()
    manager.apply(SPECS)
    record = action_logger(DeploymentLog(engine), [manager])  # type: ignore[list-item]
    record(ActionRecord(10.0, "start", "tiny-0", "new in plan", "rig-a", None, "ok"))
    record(ActionRecord(20.0, "move", "tiny-1", "rig lost", "rig-a", "rig-b", "ok"))
    record(ActionRecord(30.0, "start", "ghost", "new in plan", "rig-c", None, "no such rig"))
    actions = DeploymentLog(engine).actions()
    assert [(a.action, a.deployment, a.reason) for a in actions] == [
        ("start", "?", "new in plan (failed: no such rig)"),
        ("move", "tiny", "rig lost [rig-b -> rig-a]"),
        ("start", "tiny", "new in plan"),
    ]
