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
