"""Isolation for every test: the default database is a throwaway one, never the user's
`~/.local/share/rigshift/rigshift.db` (stored measurements there would change estimates), and
each test gets its own: a README-tour `rigshift bench import` once made later estimator tests
see calibrated figures through a shared one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # For module- and session-scoped fixtures, which start before any per-test fixture.
    if "RIGSHIFT_DB" not in os.environ:
        os.environ["RIGSHIFT_DB"] = os.path.join(tempfile.mkdtemp(prefix="rigshift-test-db-"), "rigshift.db")


@pytest.fixture(autouse=True)
def _own_default_database(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGSHIFT_DB", str(Path(tmp_path_factory.mktemp("default-db")) / "rigshift.db"))
