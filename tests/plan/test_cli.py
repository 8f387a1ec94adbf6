"""`rigshift plan` end to end: real catalog, real estimator, real solver, files on disk."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rigshift.cli.app import app
from rigshift.plan import Plan

from .fixtures import fleet, rig

runner = CliRunner()

DEMAND = """\
deployments:
  - name: chat
    model: llama-3.1-8b
    context: 4096
    replicas: {min: 2, max: 6}
    value: {usd_per_mtok: 0.4}
"""


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    f = fleet(rig("a1", "A", "geforce-rtx-3060-12gb", 4), rig("b1", "B", "radeon-rx-580-8gb", 4))
    path = tmp_path / "fleet.json"
    path.write_text(f.model_dump_json())
    return path


def _demand(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "demand.yaml"
    path.write_text(text)
    return path


def test_plan_writes_a_plan_that_reads_back_and_replans_in_place(tmp_path: Path, fleet_file: Path):
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["plan", str(fleet_file), str(_demand(tmp_path, DEMAND)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "objective" in result.output and "chat" in result.output
    plan = Plan.model_validate_json(out.read_text())
    assert 2 <= len(plan.replicas) <= 6 and plan.bound is not None
    again = runner.invoke(
        app, ["plan", str(fleet_file), str(_demand(tmp_path, DEMAND)), "--current", str(out), "--json"]
    )
    assert again.exit_code == 0, again.output
    data = json.loads(again.output)
    assert {m["action"] for m in data["moves"]} == {"keep"}


def test_unmeetable_demand_exits_3_with_reasons(tmp_path: Path, fleet_file: Path):
    text = DEMAND.replace("llama-3.1-8b", "llama-3.1-70b").replace(
        "context: 4096", "context: 4096\n    parallel: 1"
    )
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["plan", str(fleet_file), str(_demand(tmp_path, text)), "-o", str(out)])
    assert result.exit_code == 3
    assert "unplaced" in result.output and "rejected" in result.output
    assert Plan.model_validate_json(out.read_text()).unplaced  # the plan is still written


def test_malformed_demand_exits_2_with_file_line_and_field(tmp_path: Path, fleet_file: Path):
    text = DEMAND.replace("    context: 4096", "    contxt: 4096")
    result = runner.invoke(app, ["plan", str(fleet_file), str(_demand(tmp_path, text))])
    assert result.exit_code == 2
    assert "demand.yaml:line 4" in result.output and "contxt" in result.output
    assert "Traceback" not in result.output


def test_unknown_model_gets_a_suggestion(tmp_path: Path, fleet_file: Path):
    result = runner.invoke(
        app, ["plan", str(fleet_file), str(_demand(tmp_path, DEMAND.replace("llama-3.1-8b", "llama-3.1-8")))]
    )
    assert result.exit_code == 2
    assert "did you mean" in result.output


# Issue 13: `usd_per_mtok: .inf` planned to "objective inf" and exited 0.
@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("value: {usd_per_mtok: .inf}", "usd_per_mtok"),
        ("value: {priority: .nan}", "priority"),
        ("replicas: {min: 1, max: 100000000}", "max"),
        ("throughput: {tokens_per_s: .inf}", "tokens_per_s"),
    ],
)
def test_non_finite_or_absurd_demand_is_refused(tmp_path: Path, fleet_file: Path, value: str, field: str):
    text = f"deployments:\n  - name: chat\n    model: llama-3.1-8b\n    {value}\n"
    if "replicas" not in value and "throughput" not in value:
        text += "    replicas: 2\n"
    result = runner.invoke(app, ["plan", str(fleet_file), str(_demand(tmp_path, text))])
    assert result.exit_code == 2, result.output
    assert "demand.yaml:line 4, $.deployments[0]." in result.output and f"{field}:" in result.output
    assert "objective" not in result.output


def test_plan_options_that_would_stall_the_planner_are_refused(tmp_path: Path, fleet_file: Path):
    text = DEMAND + "options:\n  time_limit_s: .inf\n"
    result = runner.invoke(app, ["plan", str(fleet_file), str(_demand(tmp_path, text))])
    assert result.exit_code == 2 and "time_limit_s" in result.output
