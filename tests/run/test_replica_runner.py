"""ReplicaRunner outside Ray: the rig's environment wins, and failures become state, not crashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from rigshift.fleet.model import Rig
from rigshift.run.agent import Agent
from rigshift.run.replica_actor import ReplicaRunner
from rigshift.run.spec import ModelSource, ReplicaSpec, to_dict


def test_rig_cache_and_missing_backend_become_an_unhealthy_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIGSHIFT_MODEL_CACHE", str(tmp_path / "rig-cache"))
    monkeypatch.setenv("RIGSHIFT_LLAMA_SERVER", str(tmp_path / "no-such-binary"))
    spec = ReplicaSpec("r-0", "d", "d", ModelSource("demo", "cached on the rig"), "rig-a")
    runner = ReplicaRunner(to_dict(spec), {"cache_dir": str(tmp_path / "server-path")}, {})
    info = runner.info()
    assert info["state"] == "unhealthy"
    assert "no llama.cpp server" in info["error"]
    assert list((tmp_path / "rig-cache").rglob("*.gguf"))  # the rig's cache, not the server's path
    assert not (tmp_path / "server-path").exists()
    runner.stop()  # nothing running: a no-op, never an error


def test_agent_node_environment_carries_token_server_and_cache() -> None:
    agent = Agent(Rig(name="r", site="s"), "http://cp:8000", "tok", "h:6380", model_cache="/data/models")
    env = agent.node_env()
    assert (env["RAY_AUTH_MODE"], env["RAY_AUTH_TOKEN"]) == ("token", "tok")
    assert env["RIGSHIFT_SERVER"] == "http://cp:8000"
    assert env["RIGSHIFT_MODEL_CACHE"] == "/data/models"


@pytest.mark.slow
def test_a_replica_with_an_adapter_serves_it_only_when_a_request_names_it(tmp_path: Path) -> None:
    """The actor's body for real: base and adapter through the rig's cache, llama-server with
    `--lora`, and the per-request `lora` field switching the adapter on and off."""
    import httpx

    from rigshift.run.backends import find_llama_server
    from rigshift.run.spec import AdapterRef
    from rigshift.run.tiny_gguf import expected_text
    from rigshift.run.tiny_lora import adapted_text, write_tiny_lora
    from waiting import wait_until

    if find_llama_server() is None:
        pytest.skip("llama-server not found: run scripts/build-llama-server (or set RIGSHIFT_LLAMA_SERVER)")
    lora = write_tiny_lora(tmp_path / "lora.gguf")
    spec = ReplicaSpec(
        "r-0",
        "d",
        "rigshift-tiny",
        ModelSource("demo", "Hello from rigshift! This farm mines tokens now."),
        "rig-a",
        context=256,
        adapters=(AdapterRef("ft:rigshift-tiny:k::1", ModelSource("path", str(lora))),),
    )
    runner = ReplicaRunner(to_dict(spec), {"cache_dir": str(tmp_path / "cache"), "threads": 1}, {})
    try:
        wait_until(lambda: runner.info()["state"] == "ready", "the replica is ready", timeout_s=60)
        url = runner.info()["base_url"] + "/v1/chat/completions"

        def reply(lora_field: list[dict[str, float]]) -> str:
            body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 16, "lora": lora_field}
            return str(
                httpx.post(url, json=body, timeout=30).json()["choices"][0]["message"]["content"]
            ).strip()

        assert reply([{"id": 0, "scale": 1.0}]) == adapted_text()
        assert reply([{"id": 0, "scale": 0.0}]) == expected_text()
    finally:
        runner.stop()
