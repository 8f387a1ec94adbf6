"""`rigshift server --fleet`: a missing or malformed fleet file stops the start with a clear error."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from rigshift.cli.app import app


def test_a_missing_fleet_file_is_an_input_error(tmp_path: Path):
    result = CliRunner().invoke(
        app, ["server", "--no-ray", "--db", str(tmp_path / "r.db"), "--fleet", "nope.json"]
    )
    assert result.exit_code == 2
    assert "fleet file not found: nope.json" in result.output and "Traceback" not in result.output


def test_a_malformed_fleet_file_is_refused_before_the_server_starts(tmp_path: Path):
    bad = tmp_path / "fleet.json"
    bad.write_text('{"rigs": [{"name": "r1", "gpus": [{"model": "rtx-3060-12gb", "vram_gib": -1}]}]}')
    result = CliRunner().invoke(
        app, ["server", "--no-ray", "--db", str(tmp_path / "r.db"), "--fleet", str(bad)]
    )
    assert result.exit_code == 2
    assert "fleet.json" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r.db").exists()  # refused before anything was created
