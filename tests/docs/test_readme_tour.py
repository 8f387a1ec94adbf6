"""The README's tour runs as written on a fresh clone (issue 10, item 9).

Every `rigshift …` line of the README's bash blocks is run, in order, from a scratch copy of
`examples/` (so files the tour writes, such as fleet.json, land in a scratch folder) and must exit
0. Lines that start a long-running server or need one (`up`, `server`, `agent`, anything with
`--server URL`) are listed in SERVES and skipped; `fleet probe` exits 5 on a machine without GPUs,
as the README says.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVES = ("rigshift up", "rigshift server", "rigshift agent", "curl ")
PROBE_WITHOUT_GPUS = 5


def tour_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()  # drop trailing comments
            if line.startswith(".venv/bin/rigshift"):
                line = line.removeprefix(".venv/bin/")
            if not line.startswith("rigshift ") or line.startswith(SERVES) or "--server URL" in line:
                continue
            commands.append(line)
    return commands


def test_the_tour_is_found():
    commands = tour_commands()
    assert len(commands) >= 15
    assert any(c.startswith("rigshift plan") for c in commands)


@pytest.mark.slow
def test_every_readme_tour_command_exits_0(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    # A scratch HOME, but the machine's build cache: scripts/setup built llama-server and
    # llama-bench there once per machine, and the tour's `rigshift bench` runs right after set-up.
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    env = {**os.environ, "HOME": str(tmp_path / "home"), "COLUMNS": "100", "XDG_CACHE_HOME": cache}
    env.pop("RIGSHIFT_SERVER", None)
    rigshift = [sys.executable, "-m", "rigshift.cli.app"]
    failures = []
    for command in tour_commands():
        argv = shlex.split(command)
        done = subprocess.run(
            [*rigshift, *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        expected = PROBE_WITHOUT_GPUS if argv[1:3] == ["fleet", "probe"] else 0
        if done.returncode not in (0, expected):
            failures.append(f"{command}: exit {done.returncode}\n{done.stderr[-800:]}")
    assert not failures, "\n\n".join(failures)
