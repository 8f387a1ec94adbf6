"""A real multi-node Ray cluster (token auth on) running the tiny model with the real llama-server.

One cluster for the whole module (a start costs ~15 s on 2 cores): a head and two simulated rigs,
each node labelled from a fleet description the way `rigshift agent` labels it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from rigshift.errors import BackendError
from rigshift.fleet.model import Gpu, PcieState, Rig
from rigshift.run.agent import Agent
from rigshift.run.labels import rig_labels
from rigshift.run.manager import ReplicaManager
from rigshift.run.ray_cluster import RayCluster, use_token_in_this_process
from rigshift.run.replica_actor import RunnerSettings
from rigshift.run.spec import LABEL_RIG, ModelSource, ReplicaSpec
from rigshift.run.tiny_gguf import expected_text

pytestmark = pytest.mark.slow

REPLY = "Tokens from the farm"
TOKEN = "test-join-token-0123456789abcdef0123456789"


def _rig(name: str, gpus: int) -> Rig:
    card = Gpu(model="geforce-rtx-3060-12gb", vram_gib=12, pcie=PcieState(gen=1, width=1))
    return Rig(name=name, site="north", gpus=[card.model_copy() for _ in range(gpus)])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, llama_server_bin: str) -> Iterator[tuple[object, dict]]:
    import ray
    from ray.cluster_utils import Cluster

    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RIGSHIFT_LLAMA_SERVER")}
    use_token_in_this_process(TOKEN)
    os.environ["RIGSHIFT_LLAMA_SERVER"] = llama_server_bin
    c = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "labels": {"rigshift.io/role": "head"}},
    )
    nodes = {
        "rig-a": c.add_node(num_cpus=2, labels=rig_labels(_rig("rig-a", 2))),
        "rig-b": c.add_node(num_cpus=2, labels=rig_labels(_rig("rig-b", 1))),
    }
    ray.init(address=c.address, namespace="rigshift", log_to_driver=False)
    try:
        yield c, nodes
    finally:
        ray.shutdown()
        c.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        from ray._private.authentication_test_utils import reset_auth_token_state

        reset_auth_token_state()


@pytest.fixture(scope="module")
def manager(
    cluster: tuple[object, dict], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReplicaManager]:
    settings = RunnerSettings(
        cache_dir=str(tmp_path_factory.mktemp("models")),
        threads=1,
        supervisor={"interval_s": 0.2, "backoff_base_s": 0.2},
    )
    mgr = ReplicaManager(RayCluster(settings), interval_s=0.5)
    source = ModelSource("demo", REPLY)
    mgr.apply(
        [
            ReplicaSpec("tiny-0", "tiny", "tiny", source, "rig-a", parallel=2, context=512),
            ReplicaSpec("tiny-1", "tiny", "tiny", source, "rig-b", parallel=2, context=512),
        ]
    )
    mgr.start()
    assert mgr.wait_ready(2, timeout_s=90), mgr.actions
    yield mgr
    mgr.close(stop_replicas=True)


def _client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url + "/v1", api_key="unused", max_retries=0, timeout=20)


def test_replicas_run_on_their_rigs_and_answer_the_openai_client(manager: ReplicaManager) -> None:
    ready = {e.replica_id: e for e in manager.directory().ready_replicas("tiny")}
    assert {e.rig for e in ready.values()} == {"rig-a", "rig-b"}
    for endpoint in ready.values():
        client = _client(endpoint.base_url)
        chat = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hello"}])
        assert chat.choices[0].message.content.strip() == expected_text(REPLY)
        stream = client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "hi"}], stream=True, max_tokens=2
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        assert text.strip() == expected_text(REPLY, max_tokens=2)
    assert [a.reason for a in manager.actions[:2]] == ["new in plan", "new in plan"]


def test_actors_are_pinned_by_rig_label(manager: ReplicaManager, cluster: tuple[object, dict]) -> None:
    import ray

    _, nodes = cluster
    for replica_id, rig in (("tiny-0", "rig-a"), ("tiny-1", "rig-b")):
        actor = ray.get_actor(f"replica:{replica_id}", namespace="rigshift")
        info = ray.get(actor.info.remote())
        assert info["rig"] == rig
        assert info["node_id"] == nodes[rig].node_id


def test_killed_backend_comes_back(manager: ReplicaManager) -> None:
    before = {e.replica_id: e for e in manager.replicas()}["tiny-0"]
    pid = manager.kill_backend("tiny-0")
    assert pid
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = {e.replica_id: e for e in manager.replicas()}.get("tiny-0")
        if now and now.state == "ready" and now.labels["restarts"] != before.labels["restarts"]:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"replica did not come back: {manager.replicas()}")
    reply = _client(now.base_url).completions.create(model="tiny", prompt="x", max_tokens=1)
    assert reply.choices[0].text.strip() == expected_text(REPLY, max_tokens=1)


@pytest.fixture(scope="module")
def gateway(manager: ReplicaManager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The real control plane's gateway in front of the Ray replicas (loopback, SQLite)."""
    from rigshift.server.app import create_app
    from rigshift.server.db import open_engine
    from rigshift.server.serving import serve_in_thread
    from rigshift.server.settings import ServerSettings
    from rigshift.server.stores.keys import KeyStore

    db = f"sqlite:///{tmp_path_factory.mktemp('gw') / 'gw.db'}"
    engine = open_engine(db)
    _, key = KeyStore(engine).create("tenant", now=time.time())
    app = create_app(
        manager.directory(), ServerSettings(db_url=db, join_token=TOKEN), engine=engine, manager=manager
    )
    running = serve_in_thread(app)
    yield running.url, key
    running.stop()


def test_gateway_serves_ray_replicas_to_the_openai_client(gateway: tuple[str, str]) -> None:
    url, key = gateway
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=20)
    assert "tiny" in [m.id for m in client.models.list().data]
    chat = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content.strip() == expected_text(REPLY)
    # one token per word, plus the EOS llama.cpp counts as generated
    assert chat.usage is not None and chat.usage.completion_tokens == len(REPLY.split()) + 1
    stream = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text.strip() == expected_text(REPLY)


def test_killing_a_backend_under_load_fails_no_request(
    manager: ReplicaManager, gateway: tuple[str, str]
) -> None:
    url, key = gateway
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=30)
    failures: list[str] = []
    done = [0]

    def worker() -> None:
        for _ in range(50):
            try:
                reply = client.completions.create(model="tiny", prompt="load", max_tokens=3)
                assert reply.choices[0].text.strip() == expected_text(REPLY, max_tokens=3)
                done[0] += 1
            except Exception as error:  # collected, asserted below
                failures.append(repr(error))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    while done[0] < 8 and not failures:  # kill once the load is flowing
        time.sleep(0.01)
    victim = manager.directory().ready_replicas("tiny")[0].replica_id
    assert manager.kill_backend(victim)
    at_kill = done[0]
    for t in threads:
        t.join(120)
    assert failures == []
    assert done[0] == 200
    assert at_kill < 150  # the kill landed while requests were still flowing
    assert manager.wait_ready(2, timeout_s=30), manager.replicas()


def test_a_new_manager_adopts_running_replicas(manager: ReplicaManager, tmp_path: Path) -> None:
    """A restarted control plane finds the detached actors and restarts nothing."""
    before = {e.replica_id: e.base_url for e in manager.replicas()}
    successor = ReplicaManager(RayCluster(RunnerSettings(cache_dir=str(tmp_path))))
    successor.apply(manager.desired)
    assert successor.tick() == []
    after = {e.replica_id: e.base_url for e in successor.directory().ready_replicas("tiny")}
    assert after == before


def test_agent_joins_with_labels_only_with_the_join_token(
    cluster: tuple[object, dict], tmp_path: Path
) -> None:
    import ray

    c, _ = cluster
    rig = _rig("rig-new", 1)
    intruder = Agent(
        rig, "http://127.0.0.1:9", "wrong-token-" + "x" * 32, c.address, num_cpus=0, simulate=True
    )
    with pytest.raises(BackendError, match="could not join"):
        intruder.run(log_path=tmp_path / "intruder.log")
    assert not any((n.get("Labels") or {}).get(LABEL_RIG) == "rig-new" for n in ray.nodes() if n["Alive"])

    member = Agent(rig, "http://127.0.0.1:9", TOKEN, c.address, num_cpus=0, simulate=True)
    joined = threading.Event()
    thread = threading.Thread(
        target=member.run, kwargs={"on_joined": lambda _: joined.set(), "log_path": tmp_path / "a.log"}
    )
    thread.start()
    try:
        assert joined.wait(120), (tmp_path / "a.log").read_text()[-2000:]
        deadline = time.monotonic() + 30
        labels: dict[str, str] = {}
        while time.monotonic() < deadline and not labels:
            labels = next(
                (n["Labels"] for n in ray.nodes() if n["Alive"] and n["Labels"].get(LABEL_RIG) == "rig-new"),
                {},
            )
            time.sleep(0.5)
        assert labels["rigshift.io/gpu-0"] == "geforce-rtx-3060-12gb"
        assert labels["rigshift.io/gpu-0-pcie"] == "gen1x1"
        assert labels["rigshift.io/gpu-0-vram-gib"] == "12"
    finally:
        member.stop()
        thread.join(60)
    node = member._node
    assert node is not None
    with pytest.raises(ProcessLookupError):  # the node's raylet and workers went with it
        os.killpg(node.pid, 0)


def test_removed_node_replicas_are_replaced(manager: ReplicaManager, cluster: tuple[object, dict]) -> None:
    """Last in the module: it takes rig-b away for good."""
    c, nodes = cluster
    c.remove_node(nodes["rig-b"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready = manager.directory().ready_replicas("tiny")
        if len(ready) == 2 and {e.rig for e in ready} == {"rig-a"}:
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"not re-placed: {manager.replicas()} {manager.actions[-3:]}")
    moved = [a for a in manager.actions if a.replica_id == "tiny-1" and a.rig == "rig-a"]
    assert moved and moved[-1].reason == "rig rig-b lost"
    endpoint = next(e for e in ready if e.replica_id == "tiny-1")
    assert _client(endpoint.base_url).models.list().data[0].id == "tiny"
