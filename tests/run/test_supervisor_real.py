"""The supervisor with the real llama-server and the tiny model: ready, killed, back."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from rigshift.run.backends import BackendBinary, backend_command, backend_env
from rigshift.run.replica_actor import free_port, spawn_tied
from rigshift.run.spec import ModelSource, ReplicaSpec
from rigshift.run.supervisor import BackendSupervisor, SupervisorSettings
from rigshift.run.tiny_gguf import expected_text, write_tiny_gguf

pytestmark = pytest.mark.slow


def test_llama_server_replies_restarts_and_stops(tmp_path: Path, llama_server_bin: str) -> None:
    model = write_tiny_gguf(tmp_path / "tiny.gguf", reply="Rigs serve tokens")
    spec = ReplicaSpec(
        "t-0", "t", "tiny", ModelSource("path", str(model)), "local", parallel=2, context=512, embeddings=True
    )
    port = free_port("127.0.0.1")
    argv = backend_command(
        BackendBinary("llama-server", (llama_server_bin,)), spec, str(model), "127.0.0.1", port
    )
    sup = BackendSupervisor(
        argv,
        backend_env(spec),
        f"http://127.0.0.1:{port}/health",
        spawn=spawn_tied(tmp_path / "backend.log"),
        settings=SupervisorSettings(interval_s=0.1, backoff_base_s=0.1),
    )
    sup.start()
    try:
        assert sup.wait_ready(30), (tmp_path / "backend.log").read_text()[-2000:]
        body = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}
        reply = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=10).json()
        assert reply["choices"][0]["message"]["content"].strip() == expected_text("Rigs serve tokens")
        body = {"model": "tiny", "input": ["one", "two"]}
        vectors = httpx.post(f"http://127.0.0.1:{port}/v1/embeddings", json=body, timeout=10).json()["data"]
        assert len(vectors) == 2 and len(vectors[0]["embedding"]) == 64
        first_pid = sup.status().pid

        assert sup.kill_backend() == first_pid
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            sup.status().state == "ready" and sup.status().pid != first_pid
        ):
            time.sleep(0.05)
        status = sup.status()
        assert status.state == "ready" and status.restarts == 1
        assert status.pid != first_pid
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    finally:
        sup.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
