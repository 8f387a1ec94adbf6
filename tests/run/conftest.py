"""Shared pieces for the run-plane tests."""

from __future__ import annotations

import pytest

from rigshift.run.backends import find_llama_server


@pytest.fixture(scope="session")
def llama_server_bin() -> str:
    """The real llama-server; scripts/build-llama-server builds it once per machine."""
    path = find_llama_server()
    if path is None:
        pytest.skip("llama-server not built: run scripts/build-llama-server (the test script does)")
    return str(path)
