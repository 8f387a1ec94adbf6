"""Terminal output that fits (issue 10, item 7): 80 and 120 columns, pipes, --json everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rigshift.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fit") / "fleet.json"
    result = runner.invoke(
        app, ["fleet", "import", str(ROOT / "examples/fleet/hiveos_farm_2workers.json"), "-o", str(path)]
    )
    assert result.exit_code == 0, result.output
    return path


def _commands(fleet: Path) -> dict[str, list[str]]:
    return {
        "gpus": ["gpus", "--mining-only"],
        "models": ["models"],
        "fleet show": ["fleet", "show", str(fleet)],
        "assess": ["assess", str(fleet)],
        "plan": ["plan", str(fleet), str(ROOT / "examples/demand/small-test.yaml")],
        "estimate": [
            "estimate",
            "--gpu",
            "RTX 3060",
            "--gpus",
            "6",
            "--pcie",
            "gen1x1",
            "--model",
            "llama-3.1-70b",
        ],
    }


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("command", ["gpus", "models", "fleet show", "assess", "plan", "estimate"])
def test_every_table_fits_the_width(command: str, columns: int, fleet_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    result = runner.invoke(app, _commands(fleet_file)[command])
    assert result.exit_code == 0, result.output
    too_wide = [line for line in result.output.splitlines() if len(line) > columns]
    assert not too_wide, "\n".join(too_wide)
    assert "…" not in result.output  # nothing cut with an ellipsis


@pytest.mark.parametrize("columns", [80, 120])
def test_names_the_user_needs_are_whole_at_any_width(columns: int, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    out = runner.invoke(app, ["models"]).output
    for key in ("llama-3.1-8b", "qwen2.5-14b", "nomic-embed-text-v1.5"):
        assert any(line.split()[:1] == [key] for line in out.splitlines()), key


def test_a_pipe_gets_one_row_per_line(monkeypatch) -> None:
    """`rigshift models | cat` printed one word per line: on a pipe nothing wraps or drops."""
    monkeypatch.delenv("COLUMNS", raising=False)
    out = runner.invoke(app, ["models"]).output
    row = next(line for line in out.splitlines() if line.startswith("llama-3.2-1b"))
    assert "Llama 3.2 1B Instruct" in row and "131072" in row
    assert not any(line.strip() in ("Instru", "ct", "Instruct") for line in out.splitlines())


@pytest.mark.parametrize("command", ["gpus", "models", "fleet show", "assess", "plan", "estimate"])
def test_json_everywhere(command: str, fleet_file: Path) -> None:
    result = runner.invoke(app, [*_commands(fleet_file)[command], "--json"])
    assert result.exit_code == 0, result.output
    json.loads(result.output)


def test_json_from_commands_that_write_files(fleet_file: Path, tmp_path: Path) -> None:
    inventory = str(ROOT / "examples/fleet/hiveos_farm_2workers.json")
    imported = runner.invoke(app, ["fleet", "import", inventory, "-o", str(tmp_path / "f.json"), "--json"])
    assert imported.exit_code == 0 and json.loads(imported.output)["gpus"] == 10
    demo = runner.invoke(app, ["fleet", "demo", "-o", str(tmp_path / "d.json"), "--scale", "20", "--json"])
    assert demo.exit_code == 0 and json.loads(demo.output)["gpus"] >= 1
    demand = str(ROOT / "examples/demand/small-test.yaml")
    deploy = runner.invoke(app, ["deploy", demand, "--fleet", str(fleet_file), "--json"])
    assert deploy.exit_code == 0, deploy.output
    assert {s["deployment"] for s in json.loads(deploy.output)} == {"chat"}


def test_an_unknown_vendor_is_an_error_with_a_suggestion() -> None:
    result = runner.invoke(app, ["gpus", "--vendor", "nvidai"])
    assert result.exit_code == 2 and "did you mean: nvidia" in result.output


def test_estimate_reads_8k_and_a_bare_x1() -> None:
    base = ["estimate", "--gpu", "RTX 3060 12GB", "--model", "llama-3.1-8b", "--json"]
    short = json.loads(runner.invoke(app, [*base, "--context", "8k", "--pcie", "x1"]).output)
    long = json.loads(runner.invoke(app, [*base, "--context", "8192", "--pcie", "gen4x1"]).output)
    assert short == long and short["context"] == 8192
    spelled = runner.invoke(app, [*base, "--pcie", "PCIe 3.0 x16"])
    assert spelled.exit_code == 0, spelled.output
    bad = runner.invoke(app, [*base, "--context", "8q"])
    assert bad.exit_code == 2 and "8k" in bad.output
