"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rigshift.cli.app import app


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A one-rig fleet file, written by `rigshift fleet import` from the shipped example."""
    path = tmp_path_factory.mktemp("fleet") / "fleet.json"
    result = CliRunner().invoke(
        app, ["fleet", "import", "examples/fleet/rig_6x3060-12g_x1.yaml", "-o", str(path)]
    )
    assert result.exit_code == 0, result.output
    return str(path)
