"""A tenant's LoRA adapter served by the real llama-server through the gateway and the official
client: the adapter changes the tiny model's answer, the base still answers as before on the same
replica, and another tenant cannot reach the adapter.

Needs `llama-server` (scripts/build-llama-server or $RIGSHIFT_LLAMA_SERVER); skipped without it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from llama_server import needs_llama_server
from rigshift.run.adapter_placement import adapter_label
from rigshift.run.backends import backend_command, choose_backend
from rigshift.run.contracts import ReplicaEndpoint
from rigshift.run.spec import AdapterRef, ModelSource, ReplicaSpec
from rigshift.run.supervisor import BackendSupervisor, SupervisorSettings, spawn_subprocess
from rigshift.run.tiny_gguf import expected_text, write_tiny_gguf
from rigshift.run.tiny_lora import adapted_text, write_tiny_lora
from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.local import SupervisedDirectory
from rigshift.server.serving import free_port, serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.stores.keys import KeyStore
from rigshift.server.stores.usage import UsageStore

pytestmark = [
    pytest.mark.slow,
    needs_llama_server,
]

BASE = "rigshift-tiny"
CHAT = [{"role": "user", "content": "hi"}]


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[tuple[str, SupervisedDirectory, Path, str]]:
    store = tmp_path / "store"
    write_tiny_gguf(store / f"{BASE}.gguf")
    db = str(tmp_path / "rigshift.db")
    directory = SupervisedDirectory()
    app = create_app(
        directory, ServerSettings(join_token="t", model_store_dir=str(store)), engine=open_engine(db)
    )
    server = serve_in_thread(app)
    try:
        yield server.url, directory, store, db
    finally:
        server.stop()


def start_replica(
    directory: SupervisedDirectory, spec: ReplicaSpec, store: Path, logs: Path
) -> BackendSupervisor:
    """What a rig's replica runner does: fetch the base and adapters, start llama-server with them."""
    port = free_port()
    argv = backend_command(
        choose_backend(spec.runtime),
        spec,
        str(store / f"{BASE}.gguf"),
        "127.0.0.1",
        port,
        threads=1,
        adapter_paths=[str(store / a.source.uri) for a in spec.adapters],
    )
    supervisor = BackendSupervisor(
        argv,
        dict(os.environ),
        f"http://127.0.0.1:{port}/health",
        spawn=spawn_subprocess(logs / f"{spec.replica_id}.log"),
        settings=SupervisorSettings(interval_s=0.2, backoff_base_s=0.1),
    )
    supervisor.start()
    directory.add(
        ReplicaEndpoint(
            spec.replica_id,
            "demo",
            BASE,
            f"http://127.0.0.1:{port}",
            spec.rig,
            (),
            "starting",
            max_parallel=2,
            context=512,
            labels=adapter_label(spec),
        ),
        lambda: supervisor.status().state,
    )
    assert supervisor.wait_ready(60), supervisor.status()
    return supervisor


def test_an_adapter_changes_the_answer_for_its_owner_only(farm, tmp_path):
    url, directory, store, db = farm
    keys = KeyStore(open_engine(db))
    owner_key, owner = keys.create("owner", now=time.time())
    _other_key, other = keys.create("other", now=time.time())
    lora = write_tiny_lora(tmp_path / "lora.gguf").read_bytes()
    made = httpx.post(
        url + "/v1/adapters",
        params={"model": BASE},
        content=lora,
        headers={"authorization": f"Bearer {owner}"},
    )
    assert made.status_code == 201, made.text
    adapter = made.json()
    # The plan the data plane gets after the upload: the base's replica loads the adapter.
    spec = ReplicaSpec(
        "r0",
        "demo",
        BASE,
        ModelSource("demo", BASE),
        "rig-0",
        context=512,
        parallel=2,
        adapters=(
            AdapterRef(
                adapter["id"],
                ModelSource("store", f"adapter-{adapter['id'].rsplit(':', 1)[1]}.gguf", adapter["sha256"]),
            ),
        ),
    )
    supervisor = start_replica(directory, spec, store, tmp_path)
    try:
        client = openai.OpenAI(base_url=url + "/v1", api_key=owner, max_retries=0, timeout=30)
        tuned = client.chat.completions.create(model=adapter["id"], messages=CHAT, max_tokens=32)
        assert tuned.choices[0].message.content.strip() == adapted_text()
        assert adapted_text() != expected_text()  # a reply the base never gives
        chunks = client.chat.completions.create(
            model=adapter["id"], messages=CHAT, max_tokens=32, stream=True
        )
        assert (
            "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip() == adapted_text()
        )
        base = client.chat.completions.create(model=BASE, messages=CHAT, max_tokens=32)
        assert base.choices[0].message.content.strip() == expected_text()  # same replica, adapter off

        stranger = openai.OpenAI(base_url=url + "/v1", api_key=other, max_retries=0, timeout=30)
        with pytest.raises(openai.NotFoundError):
            stranger.chat.completions.create(model=adapter["id"], messages=CHAT, max_tokens=4)
        assert adapter["id"] not in [m.id for m in stranger.models.list()]
        assert adapter["id"] in [m.id for m in client.models.list()]
        billed = [r.model for r in UsageStore(open_engine(db)).records(key_id=owner_key.id)]
        assert sorted(billed) == sorted([adapter["id"], adapter["id"], BASE])
    finally:
        supervisor.stop()
