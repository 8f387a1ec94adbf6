"""`rigshift assess`: files in, summary / JSON / HTML out, one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rigshift.assess import FleetAssessment
from rigshift.catalog.gpus import gpu_catalog
from rigshift.cli.app import app
from rigshift.cli.assess import load_assessment
from rigshift.fleet.model import Fleet, Gpu, PcieState, Rig, Site

runner = CliRunner()


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    key = gpu_catalog().resolve("RTX 3060", vram_gib=12).key
    rig = Rig(name="rig_6x3060-12g_x1", site="s", cpu_cores=2, ram_gib=8, disk_gib=120,
              gpus=[Gpu(model=key, vram_gib=12, pcie=PcieState(gen=1, width=1)) for _ in range(6)])  # fmt: skip
    path = tmp_path / "fleet.json"
    path.write_text(Fleet(name="cli", sites=[Site(name="s")], rigs=[rig]).model_dump_json())
    return path


def test_json_output_is_the_complete_assessment(fleet_file: Path, tmp_path: Path):
    result = runner.invoke(app, ["assess", str(fleet_file), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    decision = data.pop("decision")  # the farm decision every view carries (docs/decision.md)
    assert decision["funnel"]["gpus"] == 6 and decision["inputs_digest"].startswith("sha256:")
    assessment = FleetAssessment.model_validate(data)
    assert assessment.summary.gpus == 6 and len(assessment.gpus) == 6
    assert {"schema_version", "criteria", "summary", "profiles", "gpus", "rigs"} <= set(data)
    saved = tmp_path / "a.json"
    saved.write_text(result.stdout)
    assert load_assessment(saved) == assessment


def test_summary_and_html_report(fleet_file: Path, tmp_path: Path):
    html = tmp_path / "report.html"
    result = runner.invoke(app, ["assess", str(fleet_file), "--html", str(html), "--details"])
    assert result.exit_code == 0, result.output
    assert "AI-ready" in result.stdout and "Per GPU" in result.stdout
    page = html.read_text()
    assert "chart-tiers" in page and "rig_6x3060-12g_x1" in page


def test_criteria_flags_change_the_verdict(fleet_file: Path):
    lax = json.loads(runner.invoke(app, ["assess", str(fleet_file), "--json"]).stdout)
    strict = json.loads(runner.invoke(app, ["assess", str(fleet_file), "--json", "--min-tps", "500"]).stdout)
    assert lax["summary"]["ready_gpus"] == 6 and strict["summary"]["ready_gpus"] == 0
    assert strict["criteria"]["min_decode_tps"] == 500


def test_demo_runs(tmp_path: Path):
    result = runner.invoke(app, ["assess", "--demo", "--scale", "120", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["gpus"] >= 120


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["assess"], "give a FLEET file or --demo"),
        (["assess", "missing.json"], "no such file"),
        (["assess", "--demo", "--min-quant", "Q4_K_X"], "did you mean: Q4_K_M"),
        (["assess", "--demo", "--headline", "9000B"], "unknown model class"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], needle: str):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert needle in result.output and "Traceback" not in result.output


def test_bad_criteria_file_names_the_field_and_suggests(tmp_path: Path, fleet_file: Path):
    criteria = tmp_path / "criteria.yaml"
    criteria.write_text("min_decode_tp: 30\nreference_models:\n  7-9B: [llama-3.1-8c]\n")
    result = runner.invoke(app, ["assess", str(fleet_file), "--criteria", str(criteria)])
    assert result.exit_code == 2
    assert "min_decode_tp" in result.output and "min_decode_tps" in result.output
    criteria.write_text("reference_models:\n  7-9B: [llama-3.1-8c]\n")
    result = runner.invoke(app, ["assess", str(fleet_file), "--criteria", str(criteria)])
    assert result.exit_code == 2 and "llama-3.1-8b" in result.output


def test_html_write_failure_leaves_no_partial_file(fleet_file: Path, tmp_path: Path):
    target = tmp_path / "report.html"
    target.mkdir()  # a directory where the report should go: the rename fails
    result = runner.invoke(app, ["assess", str(fleet_file), "--html", str(target)])
    assert result.exit_code == 2 and "cannot write" in result.output
    assert target.is_dir() and not list(tmp_path.glob(".report.html.*"))  # no temp file left


def test_reports_are_written_with_the_users_umask(fleet_file: Path, tmp_path: Path):
    import os

    for mask, mode in ((0o022, 0o644), (0o077, 0o600)):
        target = tmp_path / f"report-{mask:o}.html"
        old = os.umask(mask)
        try:
            result = runner.invoke(app, ["assess", str(fleet_file), "--html", str(target)])
        finally:
            os.umask(old)
        assert result.exit_code == 0, result.output
        assert target.stat().st_mode & 0o777 == mode
