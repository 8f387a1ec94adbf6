"""Isolation for every test: the default database is a throwaway one, never the user's
`~/.local/share/rigshift/rigshift.db` (stored measurements there would change estimates)."""

from __future__ import annotations

import os
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if "RIGSHIFT_DB" not in os.environ:
        os.environ["RIGSHIFT_DB"] = os.path.join(tempfile.mkdtemp(prefix="rigshift-test-db-"), "rigshift.db")
