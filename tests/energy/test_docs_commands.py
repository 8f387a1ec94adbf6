"""Every `rigshift energy …` and `rigshift server --energy …` command the README and docs/energy.md
show runs as written, from a folder holding the repository's examples/.

Commands that talk to a control plane (`--server URL --admin-key KEY`) run against a real one on
loopback, its URL and admin key put in for the placeholders; `rigshift server --energy FILE` is
checked by building the energy loop the server builds from FILE and ticking it once.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rigshift.cli.app import app
from rigshift.energy.wiring import build_energy_loop
from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.serving import BackgroundServer, serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.energy_events import EnergyEventStore
from rigshift.server.stores.keys import KeyStore

REPO = Path(__file__).resolve().parents[2]
DOCS = (REPO / "README.md", REPO / "docs" / "energy.md")


def shown_commands() -> list[tuple[str, str]]:
    """(file, command) for each energy command in the files' shell blocks, continuations joined."""
    found = []
    for doc in DOCS:
        for block in re.findall(r"```bash\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S):
            joined = block.replace("\\\n", " ")
            for line in joined.splitlines():
                line = line.split("  #")[0].strip()
                if line.startswith("rigshift energy ") or line.startswith("rigshift server --energy"):
                    found.append((doc.name, line))
    return found


COMMANDS = shown_commands()


def test_the_docs_show_the_commands_this_test_runs() -> None:
    kinds = {c.split()[2] if c.startswith("rigshift energy") else "server" for _, c in COMMANDS}
    assert kinds == {"simulate", "event", "events", "server"}, COMMANDS
    assert {doc for doc, _ in COMMANDS} == {"README.md", "energy.md"}


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BackgroundServer, str]]:
    engine = open_engine(str(tmp_path_factory.mktemp("plane") / "rigshift.db"))
    _key, admin = KeyStore(engine).create("admin", now=time.time(), admin=True)
    server = serve_in_thread(create_app(StaticDirectory([]), ServerSettings(join_token="t"), engine=engine))
    yield server, admin
    server.stop()


@pytest.fixture(scope="module")
def examples_here(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One folder like the repository root for all the commands, in the docs' order (an event
    created by one is listed by the next): examples/ (linked), nothing else to write over."""
    here = tmp_path_factory.mktemp("docs-commands")
    (here / "examples").symlink_to(REPO / "examples")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(here)
        yield here


@pytest.mark.parametrize(("doc", "command"), COMMANDS, ids=[f"{d}: {c[:60]}" for d, c in COMMANDS])
def test_the_command_runs_as_written(
    doc: str, command: str, examples_here: Path, plane: tuple[BackgroundServer, str]
) -> None:
    args = shlex.split(command)[1:]
    if args[:2] == ["server", "--energy"]:
        store = EnergyEventStore(open_engine(str(examples_here / "energy.db")))
        loop, _ = build_energy_loop(Path(args[2]), store)
        decisions = loop.tick()
        assert decisions, f"{doc}: {command}: no site decided"
        assert all(s["price_usd_mwh"] is not None for s in loop.snapshot()["sites"])
        return
    server, admin = plane
    placeholders = {"http://ctl:8000": server.url, "URL": server.url, "$KEY": admin, "KEY": admin}
    args = [placeholders.get(a, a) for a in args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, f"{doc}: {command}\n{result.output}"
    if "--json" in args:
        assert "policy" in json.loads(result.output)
    if "--html" in args:
        page = (examples_here / args[args.index("--html") + 1]).read_text()
        assert "<figure class='plot price'>" in page
    if args[:2] == ["energy", "events"]:
        assert json.loads(result.output)["data"], "the events the docs created are listed"
