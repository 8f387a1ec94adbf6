"""Every option of the control plane's commands and every setting is documented in docs/server.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rigshift.cli.app import app

DOC = (Path(__file__).resolve().parents[2] / "docs" / "server.md").read_text()


@pytest.mark.parametrize("command", ["server", "up", "usage", "keys create", "keys list", "keys revoke"])
def test_every_cli_option_is_documented(command):
    result = CliRunner().invoke(app, [*command.split(), "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    options = set(re.findall(r"(--[a-z][a-z-]+)", result.output)) - {"--help"}
    missing = sorted(o for o in options if f"`{o}" not in DOC and f"/ `{o}" not in DOC and o not in DOC)
    assert options and not missing, f"`rigshift {command}` options missing from docs/server.md: {missing}"


def test_error_codes_and_routes_are_documented():
    gateway = (Path(__file__).resolve().parents[2] / "src/rigshift/server/gateway.py").read_text()
    codes = set(re.findall(r'code="([a-z_]+)"', gateway))
    assert codes and not sorted(c for c in codes if c not in DOC)
    assert all(
        f"`{r}`" in DOC or r in DOC for r in ["/v1/usage", "/admin/deployments", "/internal/telemetry"]
    )
