"""Helpers for the tests that run the production path as real processes (server, agent, Ray)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from waiting import wait_until


def start_rigshift(*args: str, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`rigshift ARGS` in its own session (so it can be ended with its children), output to `log`."""
    # The child keeps its own copy of the descriptor; ours is closed at once (it leaked, a
    # ResourceWarning per start).
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "rigshift.cli.app", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def wait_for_output(
    proc: subprocess.Popen[bytes], log: Path, patterns: dict[str, str], timeout: float
) -> dict[str, str]:
    """The first group of each regex in `patterns` as they appear in `log` (the process's output
    file), polled with a real deadline: a process that stops printing fails the test instead of
    blocking a `readline` on its pipe forever. Fails at once, with the log, if the process exits."""
    found: dict[str, str] = {}

    def complete() -> bool:
        text = log.read_text(errors="replace")
        for name, pattern in patterns.items():
            if name not in found and (match := re.search(pattern, text)):
                found[name] = match.group(1)
        if len(found) < len(patterns) and proc.poll() is not None:
            raise AssertionError(
                f"rigshift exited with {proc.returncode} before printing {patterns}:\n{text}"
            )
        return len(found) == len(patterns)

    try:
        wait_until(complete, f"{sorted(set(patterns) - set(found))} in {log}", timeout_s=timeout, poll_s=0.3)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{log.read_text(errors='replace')}") from None
    return found


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `predicate` (exceptions count as not yet) until it is truthy or `timeout` passes."""
    wait_until(predicate, what, timeout_s=timeout, poll_s=0.3, ignore=(Exception,))


def cluster_pids(ray_tmp: str) -> list[int]:
    """Processes of the Ray cluster rooted at `ray_tmp` (their command lines name its sessions)."""
    sessions: set[str] = set()
    found: dict[int, str] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            found[int(proc.name)] = (
                (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
    for cmd in found.values():
        if ray_tmp in cmd:
            sessions.update(re.findall(r"session_[0-9_-]+", cmd))
    return [pid for pid, cmd in found.items() if ray_tmp in cmd or any(s in cmd for s in sessions)]


def stop_plane(procs: list[subprocess.Popen[bytes]], ray_tmp: str) -> None:
    """End `procs` (last started first), then whatever is left of the Ray cluster under `ray_tmp`."""
    for proc in reversed(procs):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
    for pid in cluster_pids(ray_tmp):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(ray_tmp, ignore_errors=True)


def tenant_key(db: str) -> str:
    """A new tenant API key, made by `rigshift keys create` on the server's database."""
    created = subprocess.run(
        [sys.executable, "-m", "rigshift.cli.app", "keys", "create", "tenant", "--db", db, "--json"],
        capture_output=True,
        check=True,
        text=True,
    )
    return str(json.loads(created.stdout)["key"])
