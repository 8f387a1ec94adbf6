"""`--server` is declared once (cli/options.py) and `RIGSHIFT_SERVER` means the same to every
command that takes it (issue 19: four declarations, and only some commands read the variable)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from typer.core import TyperGroup
from typer.testing import CliRunner

from rigshift.cli.app import COMMANDS, app
from rigshift.cli.lazy import load_command

runner = CliRunner()


def _commands() -> Iterator[tuple[str, object]]:
    """Every command of the CLI, as (`rigshift …` path, click command)."""
    for name, entry in sorted(COMMANDS.items()):
        stack = [(name, load_command(name, entry))]
        while stack:
            path, command = stack.pop()
            if isinstance(command, TyperGroup):
                stack.extend((f"{path} {sub}", c) for sub, c in command.commands.items())
            yield path, command


def test_every_server_option_reads_rigshift_server() -> None:
    taking = {}
    for path, command in _commands():
        for param in getattr(command, "params", []):
            if "--server" in getattr(param, "opts", ()):
                taking[path] = param.envvar
    assert {"agent", "deploy", "bench", "keys create", "usage", "energy event"} <= set(taking)
    assert {path: envvar for path, envvar in taking.items() if envvar != "RIGSHIFT_SERVER"} == {}


@pytest.fixture
def api() -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/admin/measurements/bench":
            return httpx.Response(200, json={"data": []})
        return httpx.Response(200, json={"data": []})

    return seen, httpx.MockTransport(answer)


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (["keys", "list"], "/admin/keys"),
        (["usage"], "/admin/usage"),
        (["energy", "events"], "/admin/energy/events"),
        (["bench", "--rig", "rig-01"], "/admin/measurements/bench"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_rigshift_server_sends_the_command_to_that_control_plane(
    args: list[str], path: str, api: tuple[list[httpx.Request], httpx.MockTransport], tmp_path
) -> None:
    seen, transport = api
    env = {"RIGSHIFT_SERVER": "http://cp.example:8000", "RIGSHIFT_ADMIN_KEY": "rs-admin"}
    env["RIGSHIFT_DB"] = str(tmp_path / "never.db")  # a local run would create it
    result = runner.invoke(app, args, env=env, obj=transport)
    assert result.exit_code == 0, result.output
    assert [(r.url.host, r.url.path) for r in seen] == [("cp.example", path)]
    assert seen[0].headers["authorization"] == "Bearer rs-admin"
    assert not (tmp_path / "never.db").exists()


def test_a_refusal_from_rigshift_server_is_exit_2_with_the_servers_message(tmp_path) -> None:
    transport = httpx.MockTransport(
        lambda _r: httpx.Response(401, json={"error": {"message": "admin key required", "code": None}})
    )
    env = {"RIGSHIFT_SERVER": "http://cp.example", "RIGSHIFT_ADMIN_KEY": "wrong"}
    result = runner.invoke(app, ["keys", "list"], env=env, obj=transport)
    assert result.exit_code == 2
    assert "HTTP 401: admin key required" in result.output and "Traceback" not in result.output


def test_rigshift_server_alone_leaves_a_plain_bench_on_this_machine() -> None:
    """A shell with RIGSHIFT_SERVER set still benches this machine unless --rig is given; --server
    typed without --rig is still a mistake."""
    env = {"RIGSHIFT_SERVER": "http://cp.example"}
    # The local path's own check answers (a model choice it cannot read), not the --rig rule.
    local = runner.invoke(app, ["bench", "--model", "nope:Q4"], env=env)
    assert local.exit_code == 2 and "cannot read model choice" in local.output
    typed = runner.invoke(app, ["bench", "--server", "http://cp.example"], env=env)
    assert typed.exit_code == 2 and "--rig and --server go together" in typed.output


def test_an_agent_without_a_server_says_how_to_give_one() -> None:
    result = runner.invoke(app, ["agent", "--token", "t", "--cpu-only"], env={"RIGSHIFT_SERVER": ""})
    assert result.exit_code == 2
    assert "--server" in result.output and "RIGSHIFT_SERVER" in result.output
