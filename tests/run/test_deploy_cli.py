"""`rigshift deploy` (real planner, dry run and --out) and `rigshift agent` input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rigshift.cli.app import app
from rigshift.fleet.model import Fleet, Gpu, PcieState, Rig, Site
from rigshift.fleet.store import save_fleet
from rigshift.plan.types import PlannedGpu, PlannedReplica
from rigshift.run.plan_adapter import replica_spec, source_for
from rigshift.run.spec import ModelSource, from_json
from rigshift.run.tiny_gguf import write_tiny_gguf

runner = CliRunner()


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    card = Gpu(model="geforce-rtx-3060-12gb", vram_gib=12, pcie=PcieState(gen=2, width=1))
    fleet = Fleet(
        name="t",
        sites=[Site(name="north", power_price_usd_kwh=0.05)],
        rigs=[
            Rig(
                name="rig-01",
                site="north",
                cpu_cores=4,
                ram_gib=16,
                gpus=[card.model_copy() for _ in range(2)],
            )
        ],
    )
    return save_fleet(fleet, tmp_path / "fleet.json")


def _demand(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "demand.yaml"
    path.write_text(body)
    return path


def test_deploy_dry_run_writes_specs_for_every_planned_replica(tmp_path: Path, fleet_file: Path) -> None:
    demand = _demand(
        tmp_path,
        "deployments:\n  - name: chat\n    model: qwen2.5-1.5b\n    context: 4096\n    parallel: 2\n"
        "    replicas: {min: 2, max: 2}\n    value: {usd_per_mtok: 0.1}\n",
    )
    out = tmp_path / "specs.json"
    result = runner.invoke(app, ["deploy", str(demand), "--fleet", str(fleet_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    specs = from_json(out.read_text())
    assert len(specs) == 2
    assert {s.rig for s in specs} == {"rig-01"}
    assert sorted(s.gpu_indices for s in specs) == [(0,), (1,)]
    assert all(s.model == "chat" and s.context == 4096 and s.parallel == 2 for s in specs)
    assert specs[0].source == ModelSource("store", "qwen2.5-1.5b.Q4_K_M.gguf")
    assert len({s.replica_id for s in specs}) == 2


def test_deploy_reports_bad_demand_and_unplaceable_demand(tmp_path: Path, fleet_file: Path) -> None:
    bad = _demand(tmp_path, "deployments:\n  - name: chat\n    model: qwen2.5-1.5b\n    contxt: 4096\n")
    result = runner.invoke(app, ["deploy", str(bad), "--fleet", str(fleet_file)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    huge = _demand(
        tmp_path,
        "deployments:\n  - name: big\n    model: qwen2.5-1.5b\n    replicas: {min: 50, max: 50}\n",
    )
    result = runner.invoke(app, ["deploy", str(huge), "--fleet", str(fleet_file)])
    assert result.exit_code == 3, result.output


def test_agent_unknown_rig_suggests_names(tmp_path: Path, fleet_file: Path) -> None:
    result = runner.invoke(
        app,
        [
            "agent",
            "--server",
            "http://127.0.0.1:9",
            "--token",
            "t",
            "--fleet",
            str(fleet_file),
            "--rig",
            "rig-1",
        ],
    )
    assert result.exit_code == 2
    assert "rig-01" in result.output and "did you mean" in result.output


def test_plan_adapter_maps_gpus_in_position_order() -> None:
    gpus = [
        PlannedGpu(index=5, position=1, model="geforce-rtx-3060-12gb", rig="rig 9"),
        PlannedGpu(index=None, position=0, model="geforce-rtx-3060-12gb", rig="rig 9"),
    ]
    replica = PlannedReplica(
        id="chat@rig 9/0+1#0",
        deployment="chat",
        model="qwen2.5-1.5b",
        quant="Q4_K_M",
        context=2048,
        parallel=3,
        runtime="llama.cpp-cuda",
        site="north",
        rig="rig 9",
        gpus=gpus,
        tensor_split=[0.5, 0.5],
        tokens_per_s=100,
        revenue_usd_per_h=0.1,
        power_w=240,
        power_cost_usd_per_h=0.01,
    )
    spec = replica_spec(replica, ModelSource("path", "/m.gguf"))
    assert spec.gpu_indices == (0, 5)
    assert spec.rig != "rig 9" and " " not in spec.rig  # a valid Ray label value
    assert (spec.tensor_split, spec.watts, spec.model) == ((0.5, 0.5), 240, "chat")
    assert json.loads(json.dumps(spec.labels)) == {"rigshift.io/site": "north"}


def test_model_sources_from_demand_names() -> None:
    assert source_for("demo", "Q4_K_M").kind == "demo"
    assert source_for("hf:org/repo/f.gguf", "Q4_K_M") == ModelSource("hf", "org/repo/f.gguf")
    assert source_for("/models/x.gguf", "Q4_K_M") == ModelSource("path", "/models/x.gguf")
    assert source_for("llama-3.1-8b", "Q5_K_M") == ModelSource("store", "llama-3.1-8b.Q5_K_M.gguf")


def test_deploy_applies_through_the_management_api(tmp_path: Path, fleet_file: Path) -> None:
    import httpx

    sent: list[httpx.Request] = []
    answer = [httpx.Response(202, json={"data": [{}, {}]})]

    def api(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answer[0]

    # The CLI's one HTTP client with its transport injected: a fake API.
    fake_api = httpx.MockTransport(api)
    model = write_tiny_gguf(tmp_path / "tiny.gguf")  # the planner reads a GGUF's own metadata
    demand = _demand(
        tmp_path,
        f"deployments:\n  - name: chat\n    model: {model}\n    context: 2048\n    replicas: {{min: 2, max: 2}}\n",
    )
    args = ["deploy", str(demand), "--fleet", str(fleet_file), "--server", "http://cp:8000/"]
    result = runner.invoke(app, [*args, "--admin-key", "adm"], obj=fake_api)
    assert result.exit_code == 0, result.output
    request = sent[0]
    assert (request.method, str(request.url)) == ("PUT", "http://cp:8000/admin/deployments")
    assert request.headers["Authorization"] == "Bearer adm"
    specs = from_json(request.content.decode())
    from rigshift.server.schemas import ReplicaSpecIn

    # What the planner writes passes the server's strict schema (replica ids like "chat@rig-01/0#0").
    assert [ReplicaSpecIn.model_validate(d).to_spec() for d in json.loads(request.content)] == specs
    assert len(specs) == 2 and all(s.source == ModelSource("path", str(model)) for s in specs)
    assert "applied 2 replica(s)" in result.output

    answer[0] = httpx.Response(401, json={"error": {"message": "admin key required"}})
    result = runner.invoke(app, [*args, "--admin-key", "wrong"], obj=fake_api)
    assert result.exit_code == 2  # a refusal (4xx) is the caller's input; 5xx and no answer are 4
    assert "admin key required" in result.output and "401" in result.output
    answer[0] = httpx.Response(503, json={"error": {"message": "database locked"}})
    result = runner.invoke(app, [*args, "--admin-key", "adm"], obj=fake_api)
    assert result.exit_code == 4 and "database locked" in result.output
    result = runner.invoke(app, args, env={"RIGSHIFT_ADMIN_KEY": ""}, obj=fake_api)
    assert result.exit_code == 2
