"""`rigshift plan` end to end: real catalog, real estimator, real solver, files on disk."""

import json
import re
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
    assert "chat" in result.output and "All demand is met" in result.output
    # for people: no solver vocabulary by default
    assert not any(word in result.output for word in ("objective", "bound", "gap", "LP", "highs", "milp"))
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
    assert "chat: 2 replica(s) short" in result.output and "GPU(s):" in result.output
    assert "a smaller quant or context would fit" in result.output
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


def test_explain_groups_placements_and_keeps_the_solver_figures_for_last(tmp_path: Path, fleet_file: Path):
    result = runner.invoke(app, ["plan", str(fleet_file), str(_demand(tmp_path, DEMAND)), "--explain"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Placement by deployment, site and card" in out and "Solver:" in out
    assert out.index("What runs where") < out.index("Placement by deployment") < out.index("Solver:")
    groups = [
        line
        for line in out[out.index("Placement by deployment") :].splitlines()
        if line.startswith("chat ") and ("geforce" in line or "radeon" in line)
    ]
    assert len(groups) == 2  # one row per (deployment, site, card): A's 3060s, B's RX 580s


def test_html_report_has_a_rig_map_and_the_users_umask(tmp_path: Path, fleet_file: Path):
    import os

    html = tmp_path / "plan.html"
    old = os.umask(0o022)
    try:
        result = runner.invoke(
            app, ["plan", str(fleet_file), str(_demand(tmp_path, DEMAND)), "--html", str(html)]
        )
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    page = html.read_text()
    assert "<svg id='rig-map'" in page and page.count("<rect") == 8  # one square per GPU
    # Self-contained: nothing loaded from the network (the decision's cited source is a plain link).
    assert "a1" in page and "b1" in page
    assert not re.search(r"(src|href)=['\"]?https?:(?!//bitproit\.com/)", page) and "<link" not in page
    assert html.stat().st_mode & 0o777 == 0o644


def test_swapped_arguments_and_raw_inventories_are_named(tmp_path: Path, fleet_file: Path):
    demand = _demand(tmp_path, DEMAND)
    swapped = runner.invoke(app, ["plan", str(demand), str(fleet_file)])
    assert swapped.exit_code == 2 and "arguments look swapped" in swapped.output
    fleet_as_demand = runner.invoke(app, ["plan", str(fleet_file), str(fleet_file)])
    assert fleet_as_demand.exit_code == 2 and "this is a fleet, not a demand" in fleet_as_demand.output
    root = Path(__file__).resolve().parents[2]
    raw = runner.invoke(app, ["plan", str(root / "examples/fleet/hiveos_farm_2workers.json"), str(demand)])
    assert raw.exit_code == 2 and "rigshift fleet import" in raw.output
    csv = runner.invoke(app, ["assess", str(root / "examples/fleet/farm_3rigs_per-gpu.csv")])
    assert csv.exit_code == 2 and "rigshift fleet import" in csv.output


@pytest.mark.parametrize("columns", [80, 120])
def test_summary_fits_the_terminal_and_never_cuts_a_name(
    tmp_path: Path, fleet_file: Path, columns: int, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("COLUMNS", str(columns))
    text = DEMAND.replace("name: chat", "name: chat-llama-3.1-8b-for-customer-acme")
    result = runner.invoke(app, ["plan", str(fleet_file), str(_demand(tmp_path, text))])
    assert result.exit_code == 0, result.output
    assert all(len(line) <= columns for line in result.output.splitlines()), result.output
    assert "chat-llama-3.1-8b-for-customer-acme" in result.output


def test_the_rig_map_draws_every_gpu_of_a_large_rig(tmp_path: Path):
    path = tmp_path / "fleet.json"
    path.write_text(fleet(rig("big", "A", "geforce-rtx-3060-12gb", 12)).model_dump_json())
    html = tmp_path / "plan.html"
    result = runner.invoke(app, ["plan", str(path), str(_demand(tmp_path, DEMAND)), "--html", str(html)])
    assert result.exit_code == 0, result.output
    page = html.read_text()
    assert page.count("<rect") == 12 and page.count("big GPU 11") == 1


def test_min_tps_sets_the_speed_floor_for_deployments_without_one(tmp_path: Path, fleet_file: Path):
    demand = str(_demand(tmp_path, DEMAND))
    strict = runner.invoke(app, ["plan", str(fleet_file), demand, "--min-tps", "500", "--json"])
    assert strict.exit_code == 3
    data = json.loads(strict.output[: strict.output.rindex("}") + 1])
    assert data["min_tokens_per_s"] == {"chat": 500.0} and not data["replicas"]
    assert any(r["filter"] == "speed" for r in data["unplaced"][0]["reasons"])


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
