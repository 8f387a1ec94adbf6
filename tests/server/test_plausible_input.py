"""Every number and name a client can store is checked against what is physically possible
(issue 19's low findings). Before: telemetry of -300 °C, -5 W and 1e300 GiB, `rate_limit_rpm: 0`,
deployments that could not run (an unknown rig, 8 GPUs on a CPU rig, `--host 0.0.0.0` in
extra_args) and names with newlines, NULs and U+202E were all accepted. Each must be a 4xx in
OpenAI's shape naming the field, with nothing stored."""

from __future__ import annotations

import json

import httpx
import pytest

from rigshift.fleet.model import Fleet
from rigshift.run.reconcile import RigCapacity
from rigshift.run.spec import ModelSource, ReplicaSpec, to_dict
from rigshift.server.app import create_app
from rigshift.server.fleet_source import FleetSource
from rigshift.server.serving import serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.deployments import DeploymentLog
from rigshift.server.stores.keys import KeyStore

from .conftest import JOIN_TOKEN, Gateway, replica

GOOD_GPU = {"index": 0, "model": "geforce-rtx-3060-12gb", "temperature_c": 61.0, "power_w": 140.0}


def _error(response: httpx.Response, param: str | None = None, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"} and error["message"]
    if param is not None:
        assert error["param"] == param, error
    return error


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"temperature_c": -300.0}, "gpus[0].temperature_c"),
        ({"power_w": -5.0}, "gpus[0].power_w"),
        ({"memory_used_gib": 1e300}, "gpus[0].memory_used_gib"),
        ({"utilization_pct": 250.0}, "gpus[0].utilization_pct"),
        ({"memory_used_gib": 20.0, "memory_total_gib": 12.0}, "gpus[0].memory_used_gib"),
        ({"model": "rtx\u202e3060"}, "gpus[0].model"),
    ],
)
def test_impossible_telemetry_is_refused_naming_the_field(gateway, change, param):  # type: ignore[no-untyped-def]
    gw = gateway([])
    agent = {"authorization": f"Bearer {JOIN_TOKEN}"}
    report = {"rig": "rig-a", "timestamp": 1.0, "gpus": [{**GOOD_GPU, **change}]}
    error = _error(httpx.post(gw.url + "/internal/telemetry", json=report, headers=agent), param)
    assert error["code"] == "implausible_telemetry"
    good = {"rig": "rig-a", "timestamp": 1.0, "gpus": [GOOD_GPU]}
    assert httpx.post(gw.url + "/internal/telemetry", json=good, headers=agent).status_code == 204
    exported = httpx.get(gw.url + "/metrics").text
    assert "-300" not in exported and "1e+300" not in exported


def test_a_rig_name_with_a_newline_is_refused(gateway):  # type: ignore[no-untyped-def]
    gw = gateway([])
    agent = {"authorization": f"Bearer {JOIN_TOKEN}"}
    report = {"rig": "rig-a\nrig-b", "timestamp": 1.0, "gpus": [GOOD_GPU]}
    _error(httpx.post(gw.url + "/internal/telemetry", json=report, headers=agent), "rig")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "rate_limit_rpm": 0},  # a key that can never be used
        {"name": "alice\nadmin"},
        {"name": "bob\u0000"},
        {"name": "carol\u202egpj.exe"},
        {"name": "dave\u200b"},  # zero-width space: two keys that print the same
    ],
)
def test_key_limits_and_names_are_checked(gateway, body):  # type: ignore[no-untyped-def]
    gw = gateway([])
    admin = {"authorization": f"Bearer {gw.key('ops', admin=True)}"}
    before = KeyStore(gw.engine).list()
    error = _error(httpx.post(gw.url + "/admin/keys", json=body, headers=admin))
    assert error["param"] in ("$.rate_limit_rpm", "$.name")
    assert KeyStore(gw.engine).list() == before


def test_a_model_name_with_control_characters_is_refused_before_routing(gateway, backends):  # type: ignore[no-untyped-def]
    gw = gateway([replica("r1", backends().url)])
    tenant = {"authorization": f"Bearer {gw.key('t')}"}
    body = {"model": "tiny\u202e", "messages": [{"role": "user", "content": "hi"}]}
    _error(httpx.post(gw.url + "/v1/chat/completions", json=body, headers=tenant), "model")


class _Manager:
    """The API's view of the data plane, with the rigs whose agents are connected."""

    def __init__(self, rigs: dict[str, RigCapacity]) -> None:
        self.desired: list[ReplicaSpec] = []
        self.rigs = rigs

    def apply(self, specs: list[ReplicaSpec]) -> None:
        self.desired = list(specs)

    def live_rigs(self) -> dict[str, RigCapacity]:
        return self.rigs


SPEC = to_dict(
    ReplicaSpec(
        "chat-0",
        "chat",
        "tiny",
        ModelSource("demo", "hi"),
        "rig-gpu",
        gpu_indices=(0, 1),
        runtime="llama.cpp-cuda",
    )
)


FLEET = Fleet.model_validate(
    {
        "sites": [{"name": "tx"}],
        "rigs": [
            {
                "name": "rig-gpu",
                "site": "tx",
                "gpus": [{"model": "geforce-rtx-3060-12gb", "vram_gib": 12}] * 2,
            },
            {"name": "rig-cpu", "site": "tx"},
        ],
    }
)


def _serve(engine, manager, fleet=None):  # type: ignore[no-untyped-def]
    app = create_app(
        StaticDirectory([]),
        ServerSettings(join_token=JOIN_TOKEN),
        engine=engine,
        manager=manager,
        fleet=fleet,
    )  # type: ignore[arg-type]
    server = serve_in_thread(app)
    gw = Gateway(server, engine, StaticDirectory([]))
    return server, {"authorization": f"Bearer {gw.key('ops', admin=True)}"}


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"rig": "rig-gpx"}, "[0].rig"),  # not in the fleet file nor the cluster (did you mean rig-gpu?)
        ({"rig": "rig-cpu", "gpu_indices": list(range(8))}, "[0].gpu_indices"),  # 8 GPUs on a CPU rig
        ({"gpu_indices": [0, 5]}, "[0].gpu_indices"),  # the rig has 2
        ({"extra_args": ["--host", "0.0.0.0"]}, "[0].extra_args"),
        ({"extra_args": ["--port=9999"]}, "[0].extra_args"),
        ({"extra_args": ["--log-file", "/etc/passwd"]}, "[0].extra_args"),
        ({"rig": "rig\u202e-gpu"}, None),  # a name with a bidi override
    ],
)
def test_deployments_that_cannot_run_are_refused(engine, change, param):  # type: ignore[no-untyped-def]
    manager = _Manager({"rig-gpu": RigCapacity("rig-gpu", ("geforce-rtx-3060-12gb",) * 2)})
    server, admin = _serve(engine, manager, FleetSource(lambda: FLEET))
    try:
        tuned = {**SPEC, "extra_args": ["--flash-attn", "on", "-ub", "256"]}
        good = httpx.put(server.url + "/admin/deployments", content=json.dumps([tuned]), headers=admin)
        assert good.status_code == 202, good.text
        bad = httpx.put(
            server.url + "/admin/deployments", content=json.dumps([{**SPEC, **change}]), headers=admin
        )
        error = _error(bad, param)
        if change.get("rig") == "rig-gpx":
            assert "rig-gpu" in error["message"]  # did you mean
        assert [s.replica_id for s in manager.desired] == ["chat-0"] and manager.desired[0].extra_args[
            0
        ] == "--flash-attn"
        assert DeploymentLog(engine).load_desired() == manager.desired
    finally:
        server.stop()


def test_without_a_fleet_file_a_rig_may_join_after_its_plan_but_a_live_rig_is_checked(engine):  # type: ignore[no-untyped-def]
    """A plan may name a rig whose agent has not joined yet (the reconciler places it once it
    does); only a server with a fleet file knows every rig there is."""
    manager = _Manager(
        {"rig-gpu": RigCapacity("rig-gpu", ("geforce-rtx-3060-12gb",) * 2), "rig-cpu": RigCapacity("rig-cpu")}
    )
    server, admin = _serve(engine, manager)
    try:
        later = httpx.put(
            server.url + "/admin/deployments",
            content=json.dumps([{**SPEC, "rig": "rig-later"}]),
            headers=admin,
        )
        assert later.status_code == 202, later.text
        cpu = {**SPEC, "rig": "rig-cpu", "gpu_indices": list(range(8))}
        _error(
            httpx.put(server.url + "/admin/deployments", content=json.dumps([cpu]), headers=admin),
            "[0].gpu_indices",
        )
        assert [s.rig for s in manager.desired] == ["rig-later"]
    finally:
        server.stop()
