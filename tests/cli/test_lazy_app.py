"""The CLI starts at once: `rigshift --help` imports no command module and no heavy library,
and its static command table agrees with the modules it stands for (issue 13, item 9)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from rigshift.cli.app import COMMANDS, app
from rigshift.cli.lazy import load_command

HEAVY = ("fastapi", "sqlalchemy", "alembic", "ray", "highspy", "numpy", "httpx")

_PROBE = """
import json, sys
from rigshift.cli.app import app
try:
    app({args!r})
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r} or m.startswith("rigshift.cli."))))
"""


def _modules_after(args: list[str]) -> list[str]:
    """The heavy libraries and rigshift.cli modules a fresh interpreter holds after running `args`."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=args, heavy=set(HEAVY))],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_help_imports_no_heavy_library_and_no_command_module() -> None:
    loaded = _modules_after(["--help"])
    assert [m for m in loaded if m.split(".")[0] in HEAVY] == []
    assert set(loaded) <= {"rigshift.cli.app", "rigshift.cli.lazy"}


def test_estimate_runs_without_the_server_solver_or_numpy() -> None:
    loaded = _modules_after(["estimate", "--gpu", "RTX 3060 12GB", "--model", "llama-3.1-8b"])
    assert [m for m in loaded if m.split(".")[0] in HEAVY] == []
    assert "rigshift.cli.estimate" in loaded and "rigshift.cli.server" not in loaded


def test_help_lists_every_command_with_its_line() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    for name, entry in COMMANDS.items():
        assert name in result.output
        assert entry.help in " ".join(result.output.split())


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_table_help_is_the_start_of_the_commands_own_help(name: str) -> None:
    command = load_command(name, COMMANDS[name])
    own = " ".join((command.help or "").split())
    # the table may end its line where the command's help goes on ("... PCIe links." / "links, and")
    assert own.startswith(" ".join(COMMANDS[name].help.split()).rstrip(".;")), (name, own[:120])


def test_every_registered_command_is_in_the_table() -> None:
    """A command a module registers but the table forgets would be unreachable."""
    for module_name in sorted({entry.module for entry in COMMANDS.values()}):
        scratch = typer.Typer()
        import_module(f"rigshift.cli.{module_name}").register(scratch)
        built = typer.main.get_command(scratch)
        names = set(built.commands) if isinstance(built, TyperGroup) else {built.name}
        for name in names:
            assert name in COMMANDS and COMMANDS[name].module == module_name, (module_name, name)


def test_a_mistyped_command_gets_a_did_you_mean_and_exit_2() -> None:
    result = CliRunner().invoke(app, ["estimat"])
    assert result.exit_code == 2
    assert "estimate" in result.output


def test_group_help_and_commands_read_through_the_lazy_table() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    assert group.commands["econ"].name == "econ"  # tests and docs read commands like this
    result = CliRunner().invoke(app, ["fleet", "--help"])
    assert result.exit_code == 0 and "import" in result.output


SERVER_STACK = ("fastapi", "starlette", "uvicorn", "ray")

_RUN = """
import json, sys
from rigshift.cli.app import app
try:
    app({args!r})
    code = 0
except SystemExit as exit:
    code = exit.code
print(json.dumps({{"code": code, "modules": sorted(m for m in sys.modules
    if m.split(".")[0] in {stack!r} or m.startswith("rigshift.server"))}}))
"""


@pytest.fixture(scope="module")
def measured_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database holding one measurement, so the analysis commands read it (issue 19: reading one
    loaded the whole server through measure/calibrate → server.db → server/__init__)."""
    from rigshift.measure.store import MeasurementStore
    from rigshift.measure.types import Measurement
    from rigshift.server.db import open_engine

    path = tmp_path_factory.mktemp("db") / "rigshift.db"
    engine = open_engine(str(path))
    MeasurementStore(engine).add(
        [
            Measurement(  # RTX 3060 decode of the 8B: estimate's row becomes "calibrated"
                measured_at=1.0,
                card_key="rtx-3060-12gb",
                card_name="NVIDIA GeForce RTX 3060",
                runtime="llama.cpp-cuda",
                model_key="llama-3.1-8b",
                quant="Q4_K_M",
                n_prompt=0,
                n_gen=128,
                n_depth=0,
                tokens_per_s=55.0,
                stddev_tokens_per_s=1.0,
                source="bench",
            )
        ]
    )
    engine.dispose()
    return str(path)


@pytest.mark.parametrize(
    "args",
    [
        ["estimate", "--gpu", "RTX 3060 12GB", "--model", "llama-3.1-8b", "--json"],
        ["assess", "FLEET", "--json"],
        ["econ", "FLEET", "--json"],
        ["plan", "FLEET", "examples/demand/small-test.yaml", "--json"],
    ],
    ids=lambda args: args[0],
)
def test_analysis_commands_on_a_database_load_no_server_and_no_ray(
    args: list[str], measured_db: str, fleet_file: str
) -> None:
    """Issue 19: `estimate … --db FILE`, `assess`, `econ` and `plan` import no FastAPI and no Ray."""
    args = [fleet_file if a == "FLEET" else a for a in args]
    result = subprocess.run(
        [sys.executable, "-c", _RUN.format(args=[*args, "--db", measured_db], stack=set(SERVER_STACK))],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["code"] in (0, None), result.stdout[-2000:]
    assert report["modules"] == []
    if args[0] == "estimate":  # it did read the database
        assert "calibrated" in result.stdout or "measured" in result.stdout
