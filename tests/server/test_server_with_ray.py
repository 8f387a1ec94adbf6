"""The production path end to end: `rigshift server` (Ray head, token auth) + `rigshift agent` +
a deployment through the API + the gateway, then a server restart.

Real processes throughout (Ray daemons, llama-server on the CPU). The Ray head is started under
its own short temp dir, and every process of that cluster is ended by pid at the end, so the test
never touches another Ray cluster on the machine.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from llama_server import needs_llama_server
from process_helpers import start_rigshift, stop_plane, tenant_key, wait_for
from rigshift.run.backends import find_llama_server
from rigshift.run.spec import ModelSource, ReplicaSpec, to_json
from rigshift.run.tiny_gguf import expected_text
from rigshift.server.serving import free_port

pytestmark = [
    pytest.mark.slow,
    needs_llama_server,
]

TOKEN = "server-test-join-token-0123456789abcdef"
REPLY = "Tokens from the farm"


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[dict[str, object]]:
    ray_tmp = tempfile.mkdtemp(prefix="rsr", dir="/tmp")  # short: Ray's socket paths must fit
    port, ray_port = free_port(), free_port()
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "RIGSHIFT_LLAMA_SERVER": str(find_llama_server()),
    }
    server_args = (
        "server",
        "--port",
        str(port),
        "--db",
        str(tmp_path / "s.db"),
        "--join-token",
        TOKEN,
        "--ray-port",
        str(ray_port),
        "--ray-temp-dir",
        ray_tmp,
    )
    procs: list[subprocess.Popen[bytes]] = []
    state: dict[str, object] = {
        "url": f"http://127.0.0.1:{port}",
        "db": str(tmp_path / "s.db"),
        "procs": procs,
    }

    def start_server(log: str) -> None:
        procs.append(start_rigshift(*server_args, log=tmp_path / log, env=env))
        wait_for(lambda: httpx.get(f"{state['url']}/healthz").status_code == 200, 90, "the server")

    state["start_server"] = start_server
    state["log"] = tmp_path
    try:
        start_server("server1.log")
        procs.append(
            start_rigshift(
                "agent",
                "--server",
                str(state["url"]),
                "--token",
                TOKEN,
                "--cpu-only",
                "--rig",
                "r1",
                "--num-cpus",
                "1",
                log=tmp_path / "agent.log",
                env=env,
            )
        )
        yield state
    finally:
        stop_plane(procs, ray_tmp)


def test_deploy_serve_and_restart_the_server(farm: dict[str, object]) -> None:
    url, log = str(farm["url"]), farm["log"]
    assert isinstance(log, Path)
    admin_key = re.search(r"admin key \(shown once\): (\S+)", (log / "server1.log").read_text())
    assert admin_key, (log / "server1.log").read_text()
    admin = {"authorization": f"Bearer {admin_key.group(1)}"}
    cluster = httpx.get(url + "/internal/cluster", headers={"authorization": f"Bearer {TOKEN}"}).json()
    assert cluster["ray_address"]

    spec = ReplicaSpec("tiny-0", "tiny", "tiny", ModelSource("demo", REPLY), "r1", context=512, parallel=2)
    # The agent joins asynchronously: the reconciler places the replica once rig r1 is there.
    r = httpx.put(url + "/admin/deployments", content=to_json([spec]), headers=admin)
    assert r.status_code == 202

    def ready() -> bool:
        replicas = httpx.get(url + "/admin/replicas", headers=admin).json()["data"]
        return any(x["state"] == "ready" for x in replicas)

    wait_for(ready, 120, "the replica on rig r1")
    key = tenant_key(str(farm["db"]))
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=30)
    for _ in range(2):
        reply = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content.strip() == expected_text(REPLY)
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        if c.choices
    )
    assert streamed.strip() == expected_text(REPLY)

    # Restart the control plane: the replica keeps running and is adopted, usage is all there.
    procs = farm["procs"]
    assert isinstance(procs, list)
    server = procs.pop(0)
    os.kill(server.pid, signal.SIGTERM)
    # 15: Ray's driver turns the SIGTERM uvicorn re-raises after its graceful shutdown into exit(15).
    assert server.wait(timeout=30) in (0, 15)
    assert "Traceback" not in (log / "server1.log").read_text()
    farm["start_server"]("server2.log")  # type: ignore[operator]
    wait_for(ready, 60, "the adopted replica")
    reply = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content.strip() == expected_text(REPLY)
    actions = httpx.get(url + "/admin/actions", headers=admin).json()["data"]
    assert [a["action"] for a in actions] == ["start"], actions  # no stop/start bounce on restart
    usage = httpx.get(url + "/v1/usage?by=key", headers={"authorization": f"Bearer {key}"}).json()["data"]
    assert [row["requests"] for row in usage] == [4]
