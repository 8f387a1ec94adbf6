"""Isolation for every test: the default database is a throwaway one, never the user's
`~/.local/share/rigshift/rigshift.db` (stored measurements there would change estimates), and
each test gets its own: a README-tour `rigshift bench import` once made later estimator tests
see calibrated figures through a shared one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis fails an example that takes over 200 ms by default: a wall-clock limit, which a loaded
# 2-core CI machine misses on its own (an estimator property took 300 ms once: DeadlineExceeded,
# then FlakyFailure). Speed is measured in bench/, not here.
settings.register_profile("rigshift", deadline=None)
settings.load_profile("rigshift")


def pytest_configure(config: pytest.Config) -> None:
    # For module- and session-scoped fixtures, which start before any per-test fixture.
    if "RIGSHIFT_DB" not in os.environ:
        os.environ["RIGSHIFT_DB"] = os.path.join(tempfile.mkdtemp(prefix="rigshift-test-db-"), "rigshift.db")


@pytest.fixture(autouse=True)
def _own_default_database(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGSHIFT_DB", str(Path(tmp_path_factory.mktemp("default-db")) / "rigshift.db"))
