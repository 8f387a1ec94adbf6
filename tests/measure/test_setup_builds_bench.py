"""Measuring is one step: scripts/setup builds llama-bench beside llama-server, so `rigshift bench`
works right after the README's set-up (it exited 5 until scripts/build-llama-bench was run by hand)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _repo_copy(tmp_path: Path, stub_builds: bool) -> Path:
    """scripts/ and pyproject.toml in a scratch root whose .venv is this interpreter, installed."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "scripts", root / "scripts")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(sys.executable)
    stamp = root / ".venv" / ".rigshift-installed"
    stamp.touch()
    os.utime(stamp, (2**31, 2**31))  # newer than pyproject.toml: no pip install
    if stub_builds:
        for name in ("build-llama-server", "build-llama-bench"):
            script = root / "scripts" / name
            script.write_text(f'#!/usr/bin/env bash\necho {name} >> "$CALLS"\necho /cache/bin/{name[6:]}\n')
            script.chmod(0o755)
    return root


def _setup(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(root / "scripts" / "setup")],
        env={**os.environ, "PYTHON": sys.executable, **env},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


def test_setup_builds_llama_bench_after_llama_server(tmp_path: Path) -> None:
    root = _repo_copy(tmp_path, stub_builds=True)
    calls = tmp_path / "calls"
    done = _setup(root, CALLS=str(calls))
    assert done.returncode == 0, done.stderr
    assert calls.read_text().split() == ["build-llama-server", "build-llama-bench"]
    calls.unlink()
    skipped = _setup(root, CALLS=str(calls), RIGSHIFT_SKIP_LLAMA_BUILD="1")
    assert skipped.returncode == 0 and not calls.exists()


@pytest.mark.slow
def test_bench_finds_llama_bench_right_after_setup(tmp_path: Path) -> None:
    """The real build scripts (minutes the first time on a machine, cached after)."""
    root = _repo_copy(tmp_path, stub_builds=False)
    done = _setup(root)
    assert done.returncode == 0, done.stderr[-2000:]
    clean = {
        k: v for k, v in os.environ.items() if k not in ("RIGSHIFT_LLAMA_BENCH", "RIGSHIFT_LLAMA_SERVER")
    }
    found = subprocess.run(
        [sys.executable, "-c", "from rigshift.measure.runner import find_llama_bench; print(find_llama_bench())"],
        env=clean, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    binary = found.stdout.strip()
    assert subprocess.run([binary, "--help"], capture_output=True, timeout=60, check=False).returncode == 0
