"""The skip for tests that start the real llama-server (found as scripts/build-llama-server
leaves it, or where RIGSHIFT_LLAMA_SERVER points)."""

from __future__ import annotations

import pytest

from rigshift.run.backends import find_llama_server

needs_llama_server = pytest.mark.skipif(
    find_llama_server() is None,
    reason="llama-server not found: run scripts/build-llama-server (or set RIGSHIFT_LLAMA_SERVER)",
)
