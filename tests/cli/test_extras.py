"""`pip install rigshift` is the analysis CLI; the server and the cluster are extras (issue 19).

Each case runs the real entry point (`rigshift.cli.app:main`) in a fresh interpreter whose imports
of the server and cluster stacks fail as they would where the extras are not installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_INSTALLED = (
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "prometheus_client",
    "multipart",
    "python_multipart",
    "uvloop",
    "httptools",
    "ray",
)

_RUN = """
import importlib.abc, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
sys.argv = ["rigshift", *{args!r}]
from rigshift.cli.app import main
main()
"""


def rigshift_without_extras(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _RUN.format(blocked=set(NOT_INSTALLED), args=list(args))],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["estimate", "--gpu", "RTX 3060 12GB", "--model", "llama-3.1-8b"],
        ["assess", "FLEET"],
        ["econ", "FLEET"],
        ["plan", "FLEET", "examples/demand/small-test.yaml"],
        ["energy", "simulate", "--demo", "--prices", "examples/prices/plain_hourly.csv"],
    ],
    ids=lambda args: args[0],
)
def test_the_analysis_commands_run_without_the_extras(args: list[str], fleet_file: str) -> None:
    result = rigshift_without_extras(*(fleet_file if a == "FLEET" else a for a in args))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip()


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["server"], "server"),
        (["keys", "list"], "server"),
        (["usage"], "server"),
        (["bench", "list"], "server"),
        (["up", "--demo"], "server"),
        (["agent", "--server", "http://127.0.0.1:9", "--token", "t", "--cpu-only"], "cluster"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_a_command_that_needs_an_extra_names_it(args: list[str], extra: str) -> None:
    result = rigshift_without_extras(*args)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"pip install 'rigshift[{extra}]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_stored_measurements_without_the_server_extra_say_how_to_read_them(tmp_path: Path) -> None:
    from rigshift.measure.store import MeasurementStore
    from rigshift.measure.types import Measurement
    from rigshift.server.db import open_engine

    db = tmp_path / "m.db"
    row = Measurement(
        "geforce-rtx-3060-12gb", "RTX 3060", "llama.cpp-cuda", "llama-3.1-8b", "Q4_K_M", 0, 128, 55.0
    )
    MeasurementStore(open_engine(str(db))).add([row])
    result = rigshift_without_extras(
        "estimate", "--gpu", "RTX 3060 12GB", "--model", "llama-3.1-8b", "--db", str(db)
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--no-measurements" in result.stderr and "pip install 'rigshift[server]'" in result.stderr
    skipped = rigshift_without_extras(
        "estimate", "--gpu", "RTX 3060 12GB", "--model", "llama-3.1-8b", "--db", str(db), "--no-measurements"
    )
    assert skipped.returncode == 0, skipped.stderr[-2000:]
