"""The first `rigshift server` start shows the one-time admin key; a start that fails first must
not use that one time up (the real CLI as a process: the key is printed on its stdout)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from process_helpers import wait_for
from rigshift.server.db import open_engine
from rigshift.server.serving import free_port
from rigshift.server.stores.keys import KeyStore


def _server(tmp_path: Path, port: int, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "rigshift.cli.app", "server", "--no-ray", "--port", str(port),
        "--db", str(tmp_path / "r.db"), "--backend", "tiny=http://127.0.0.1:9", *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "XDG_DATA_HOME": "/nonexistent-rigshift-test"}


def _keys(tmp_path: Path) -> list[str]:
    engine = open_engine(str(tmp_path / "r.db"))
    try:
        return [k.name for k in KeyStore(engine).list()]
    finally:
        engine.dispose()


@pytest.mark.slow  # three real `rigshift server` processes, ~10 s
def test_a_failed_first_start_leaves_the_admin_key_to_the_start_that_succeeds(tmp_path):
    """Regression (lock-out): a first start that failed on a bad --energy file had already created
    the admin key, shown once, so the next start printed none and the console had no way in."""
    port = free_port()
    bad = tmp_path / "energy.yaml"
    bad.write_text("sites: [this is not a site table\n")
    failed = subprocess.run(
        _server(tmp_path, port, "--energy", str(bad)), capture_output=True, text=True, env=_env(), timeout=120
    )
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert "energy.yaml" in failed.stdout + failed.stderr and "Traceback" not in failed.stderr
    assert _keys(tmp_path) == []

    with socket.socket() as taken:  # the port in use: refused before any key is made
        taken.bind(("127.0.0.1", port))
        taken.listen()
        busy = subprocess.run(
            _server(tmp_path, port), capture_output=True, text=True, env=_env(), timeout=120
        )
    assert busy.returncode != 0 and f"cannot listen on 127.0.0.1:{port}" in busy.stdout + busy.stderr
    assert _keys(tmp_path) == []

    log = tmp_path / "server.log"
    proc = subprocess.Popen(
        _server(tmp_path, port),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=_env(),
        start_new_session=True,
    )
    try:
        wait_for(lambda: "admin key (shown once)" in log.read_text(), 60, "the admin key line")
        secret = re.search(r"admin key \(shown once\): (\S+)", log.read_text()).group(1)  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(url + "/healthz", timeout=2).status_code == 200, 60, "the server")
        listed = httpx.get(url + "/admin/keys", headers={"authorization": f"Bearer {secret}"}, timeout=10)
        assert listed.status_code == 200 and [k["name"] for k in listed.json()["data"]] == ["admin"]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
