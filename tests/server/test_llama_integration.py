"""The gateway in front of the real llama.cpp server on the CPU, serving the tiny generated model.

Needs `llama-server` (scripts/build-llama-server, $RIGSHIFT_LLAMA_SERVER or PATH); skipped with
that reason when it is absent. Replicas run under the data plane's `BackendSupervisor`, so a
killed backend is restarted the way it is on a rig.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from llama_server import needs_llama_server
from process_helpers import start_rigshift, wait_for_output
from rigshift.run.backends import backend_command, choose_backend
from rigshift.run.contracts import ReplicaEndpoint
from rigshift.run.spec import ModelSource, ReplicaSpec
from rigshift.run.supervisor import BackendSupervisor, SupervisorSettings, spawn_subprocess
from rigshift.run.tiny_gguf import expected_text, write_tiny_gguf
from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.demo_models import DEMO_EMBED_MODEL, DEMO_RERANK_MODEL, demo_models
from rigshift.server.local import SupervisedDirectory
from rigshift.server.serving import BackgroundServer, free_port, serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.stores.keys import KeyStore
from rigshift.server.stores.usage import UsageStore
from waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    needs_llama_server,
]

MODEL = "rigshift-tiny"
CHAT = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("model") / "tiny.gguf")


class Farm:
    """Two supervised llama-server replicas (two simulated rigs) and a gateway in front."""

    def __init__(self, model_path: Path, db: str, logs: Path):
        self.db = db
        self.directory = SupervisedDirectory()
        self.supervisors: dict[str, BackendSupervisor] = {}
        for n in range(2):
            spec = ReplicaSpec(
                replica_id=f"r{n}",
                deployment="demo",
                model=MODEL,
                source=ModelSource("demo", MODEL),
                rig=f"rig-{n}",
                context=512,
                parallel=4,
            )
            port = free_port()
            argv = backend_command(
                choose_backend(spec.runtime), spec, str(model_path), "127.0.0.1", port, threads=1
            )
            supervisor = BackendSupervisor(
                argv,
                dict(os.environ),
                f"http://127.0.0.1:{port}/health",
                spawn=spawn_subprocess(logs / f"r{n}.log"),
                settings=SupervisorSettings(interval_s=0.2, backoff_base_s=0.1),
            )
            supervisor.start()
            self.supervisors[spec.replica_id] = supervisor
            self.directory.add(
                ReplicaEndpoint(
                    spec.replica_id,
                    "demo",
                    MODEL,
                    f"http://127.0.0.1:{port}",
                    spec.rig,
                    (f"{spec.rig}/cpu",),
                    "starting",
                    max_parallel=4,
                    context=512,
                    watts=65.0,
                ),
                lambda s=supervisor: s.status().state,
            )
        for supervisor in self.supervisors.values():
            assert supervisor.wait_ready(60), supervisor.status()
        self.gateway: BackgroundServer | None = None
        self.start_gateway()
        self.key = KeyStore(open_engine(db)).create("tenant", now=time.time())[1]

    def start_gateway(self) -> None:
        app = create_app(self.directory, ServerSettings(join_token="t"), engine=open_engine(self.db))
        # The soak presents revoked keys on purpose (each must get 401) from the one loopback
        # address; the login throttle (tests/server/test_login_throttle.py) would answer 429 after 20.
        app.state.ctx.gateway.login_throttle.max_failures = 1_000_000
        self.gateway = serve_in_thread(app)

    def client(self, key: str | None = None) -> openai.OpenAI:
        assert self.gateway is not None
        return openai.OpenAI(
            base_url=self.gateway.url + "/v1", api_key=key or self.key, max_retries=0, timeout=30
        )

    def close(self) -> None:
        if self.gateway:
            self.gateway.stop()
        for supervisor in self.supervisors.values():
            supervisor.stop()


@pytest.fixture
def farm(model_path: Path, tmp_path: Path) -> Iterator[Farm]:
    f = Farm(model_path, str(tmp_path / "rigshift.db"), tmp_path)
    yield f
    f.close()


def test_openai_client_against_real_llama_server(farm: Farm):
    client = farm.client()
    reply = client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=32)
    assert reply.choices[0].message.content.strip() == expected_text(max_tokens=32)
    assert reply.usage is not None and reply.usage.completion_tokens > 0

    chunks = list(client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=32, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed.strip() == expected_text(max_tokens=32)
    assert all(c.choices for c in chunks)  # the usage chunk the gateway asked for is not passed on

    text = client.completions.create(model=MODEL, prompt="hi", max_tokens=8).choices[0].text
    assert text.strip() == expected_text(max_tokens=8)

    records = UsageStore(open_engine(farm.db)).records()
    assert len(records) == 3
    assert all(r.prompt_tokens > 0 and r.completion_tokens > 0 for r in records)

    with pytest.raises(openai.AuthenticationError):
        farm.client("rs-000000000000_wrong").chat.completions.create(model=MODEL, messages=CHAT)
    with pytest.raises(openai.BadRequestError) as too_long:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "word " * 600}])
    assert too_long.value.code == "context_length_exceeded"


def test_killing_a_backend_under_load_fails_no_request_and_it_comes_back(farm: Farm):
    client = farm.client()
    failures: list[str] = []
    served = [0]
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                reply = client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=16)
                assert reply.choices[0].message.content.strip() == expected_text(max_tokens=16)
                served[0] += 1
            except Exception as error:  # any failure is the bug this test looks for
                failures.append(repr(error))

    workers = [threading.Thread(target=load) for _ in range(6)]
    victim = farm.supervisors["r0"]
    for w in workers:
        w.start()
    try:
        wait_until(lambda: served[0] >= 3 or failures, "load to flow", timeout_s=120)
        assert victim.kill_backend() is not None
        at_kill = served[0]
        # Load keeps flowing past the kill, however slow the machine: ten more replies.
        wait_until(lambda: served[0] >= at_kill + 10 or failures, "ten replies after the kill", timeout_s=120)
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert failures == []
    assert served[0] > 10
    # Restarted (its supervisor noticed the kill) and ready again; the other replica may have
    # served every reply meanwhile, so "ready" alone can still be the state from before the kill.
    wait_until(
        lambda: victim.status().restarts >= 1 and victim.status().state == "ready",
        "the killed replica restarted and ready",
        timeout_s=60,
    )
    # Traffic reaches the restarted replica again.
    before = sum(1 for r in UsageStore(open_engine(farm.db)).records(limit=100_000) if r.replica_id == "r0")
    for _ in range(8):
        client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=4)
    after = sum(1 for r in UsageStore(open_engine(farm.db)).records(limit=100_000) if r.replica_id == "r0")
    assert after > before


def test_restarting_the_server_loses_no_usage_record_and_replicas_keep_serving(farm: Farm):
    client = farm.client()
    done = 0
    for i in range(10):
        reply = client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=4, stream=bool(i % 2))
        if i % 2:
            list(reply)  # type: ignore[call-overload]
        done += 1
    assert farm.gateway is not None
    farm.gateway.stop()
    farm.start_gateway()
    client = farm.client()
    for _ in range(5):
        client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=4)
        done += 1
    assert UsageStore(open_engine(farm.db)).count() == done


@pytest.mark.parametrize("mode", ["--ray", "--no-ray"])
def test_rigshift_up_demo_serves_the_tiny_model(tmp_path: Path, mode: str):
    port = free_port()
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    log = tmp_path / "up.log"
    proc = start_rigshift(
        "up", "--demo", mode, "--port", str(port), "--db", str(tmp_path / "up.db"), log=log, env=env
    )
    try:
        key = wait_for_output(proc, log, {"key": r"demo API key: (\S+)"}, timeout=180)["key"]
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
        reply = client.chat.completions.create(model=MODEL, messages=CHAT)
        assert reply.choices[0].message.content.strip() == expected_text()
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["models"] == sorted(demo_models())
        # Issue 21: every route answers on a fresh clone (an embedding and a rerank deployment).
        assert client.embeddings.create(model=DEMO_EMBED_MODEL, input="hi").data[0].embedding
        ranked = client.post(
            "/rerank", cast_to=object, body={"model": DEMO_RERANK_MODEL, "query": "q", "documents": ["d"]}
        )
        assert ranked["results"][0]["index"] == 0  # type: ignore[index]
        assert "Traceback" not in log.read_text(errors="replace")
        # Issue 13: `up` let Ray listen on every interface. Every socket its processes (Ray's
        # GCS, raylet, agents, the replica) listen on must be loopback.
        listening = _listening_addresses(_descendants(proc.pid) | {proc.pid})
        assert listening and all(
            host in ("127.0.0.1", "[::ffff:127.0.0.1]", "[::1]") for host in listening
        ), listening
    finally:
        # Only the main process: it shuts its own Ray cluster and replica down in order.
        os.kill(proc.pid, signal.SIGTERM)
        try:
            assert proc.wait(timeout=60) == 0
        finally:
            with contextlib.suppress(ProcessLookupError):  # anything left of its session
                os.killpg(proc.pid, signal.SIGKILL)


def test_an_aborted_stream_is_billed_the_prompt_llama_server_counts(farm: Farm):
    """Issue 13: an aborted stream used to be billed 0 prompt tokens (usage comes only at the end)."""
    messages = [{"role": "user", "content": "hello there " * 20}]
    exact = farm.client().chat.completions.create(model=MODEL, messages=messages, max_tokens=2).usage
    assert exact is not None and exact.prompt_tokens > 20
    assert farm.gateway is not None
    # ignore_eos: the tiny model would otherwise finish its 9-token reply before the client hangs up.
    body = {"model": MODEL, "messages": messages, "stream": True, "max_tokens": 400, "ignore_eos": True}
    with httpx.stream(
        "POST",
        farm.gateway.url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {farm.key}"},
    ) as response:
        assert next(response.iter_bytes()).startswith(b"data: ")
    store = UsageStore(open_engine(farm.db))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and store.count() < 2:
        time.sleep(0.05)
    aborted = [r for r in store.records() if r.status == 499]
    assert len(aborted) == 1, [(r.status, r.completion_tokens) for r in store.records()]
    assert aborted[0].prompt_tokens == exact.prompt_tokens
    assert aborted[0].tokens_source == "counted"


def test_nan_bodies_never_reach_llama_server_and_other_tenants_keep_being_served(farm: Farm):
    """Issue 13's reproduction: NaN / 1e400 / lone surrogates made llama-server answer 500, and
    the gateway took the replica out of rotation, failing other tenants' requests with 503."""
    assert farm.gateway is not None
    url = farm.gateway.url + "/v1/chat/completions"
    attacker = KeyStore(open_engine(farm.db)).create("attacker", now=time.time())[1]
    poison = [
        b'{"model": "rigshift-tiny", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}',
        b'{"model": "rigshift-tiny", "messages": [{"role": "user", "content": "hi"}], "top_p": 1e400}',
        b'{"model": "rigshift-tiny", "messages": [{"role": "user", "content": "\\ud800"}]}',
    ]
    victim = farm.client()
    for i in range(30):
        bad = httpx.post(url, content=poison[i % 3], headers={"authorization": f"Bearer {attacker}"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
        reply = victim.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=4)
        assert reply.choices[0].message.content
    assert farm.directory.failures == []


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _listening_addresses(pids: set[int]) -> list[str]:
    """The local hosts of TCP sockets `pids` listen on (from `ss -ltnp`)."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    hosts = []
    for line in out.splitlines():
        owners = {int(p) for p in re.findall(r"pid=(\d+),", line)}
        if owners & pids:
            hosts.append(line.split()[3].rsplit(":", 1)[0])
    return hosts


def test_llama_servers_own_length_fields_cannot_pass_a_quota(farm: Farm):
    """Issue 19: `n_predict` (which llama-server obeys before `max_tokens`) with `ignore_eos` made
    a 100-token key bill 2,048 tokens, on chat and completions alike."""
    assert farm.gateway is not None
    key, secret = KeyStore(open_engine(farm.db)).create(
        "small", now=time.time(), token_quota=100, quota_period="day"
    )
    headers = {"authorization": f"Bearer {secret}"}
    for path, prompt in (("/v1/chat/completions", {"messages": CHAT}), ("/v1/completions", {"prompt": "hi"})):
        body = {"model": MODEL, **prompt, "ignore_eos": True}
        refused = httpx.post(farm.gateway.url + path, json={**body, "n_predict": 2000}, headers=headers)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "unknown_parameter"
        for extra in ({"max_tokens": 500}, {"n": 4, "max_tokens": 100}, {"n": 4, "stream": True}):
            answer = httpx.post(farm.gateway.url + path, json={**body, **extra}, headers=headers, timeout=60)
            assert answer.status_code in (200, 429), answer.text  # truncated to the quota, or refused
    rows = [r for r in UsageStore(open_engine(farm.db)).records() if r.key_id == key.id]
    billed = sum(r.total_tokens for r in rows)
    assert rows and billed <= 100, [(r.prompt_tokens, r.completion_tokens) for r in rows]


def test_every_choice_of_n_is_billed_on_llama_server(farm: Farm):
    """Issue 19: `"n": 4` generated four choices and billed one (llama-server reports the usage of
    the first choice only)."""
    client = farm.client()
    exact = client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=1).usage
    assert exact is not None
    extra = {"extra_body": {"ignore_eos": True}}  # each choice generates exactly max_tokens tokens
    reply = client.chat.completions.create(model=MODEL, messages=CHAT, n=3, max_tokens=8, **extra)  # type: ignore[arg-type]
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (exact.prompt_tokens, 24)
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=CHAT,
            n=3,
            max_tokens=8,
            stream=True,
            stream_options={"include_usage": True},
            **extra,  # type: ignore[arg-type]
        )
    )
    assert {c.choices[0].index for c in chunks if c.choices} == {0, 1, 2}
    usage = [c.usage for c in chunks if c.usage is not None]
    assert [(u.prompt_tokens, u.completion_tokens) for u in usage] == [(exact.prompt_tokens, 24)]
    rows = UsageStore(open_engine(farm.db)).records()
    assert (
        sorted((r.prompt_tokens, r.completion_tokens) for r in rows)[-2:] == [(exact.prompt_tokens, 24)] * 2
    )
    # Completions, a list of two prompts x n=2, streamed and not: every output, each prompt once.
    before = {r.id for r in rows}
    prompts = ["hi", "hello there"]
    for stream in (False, True):
        answer = client.completions.create(
            model=MODEL,
            prompt=prompts,
            n=2,
            max_tokens=8,
            stream=stream,
            **extra,  # type: ignore[call-overload]
        )
        if stream:
            list(answer)
    new = [r for r in UsageStore(open_engine(farm.db)).records() if r.id not in before]
    one_each = sum(
        client.completions.create(model=MODEL, prompt=p, max_tokens=1).usage.prompt_tokens  # type: ignore[union-attr]
        for p in prompts
    )
    assert [(r.prompt_tokens, r.completion_tokens) for r in new] == [(one_each, 32)] * 2


@pytest.mark.parametrize("warm", [False, True])
def test_a_tokenizer_timeout_cannot_pass_a_quota_on_llama_server(
    farm: Farm, monkeypatch: pytest.MonkeyPatch, warm: bool
):
    """Issue 19: when tokenizing timed out, the prompt's bound ignored the chat template (18 for
    the 56-token templated "hi"), and a 100-token quota billed 130."""
    from rigshift.server import prompt_tokens

    monkeypatch.setattr(prompt_tokens, "TOKENIZE_TIMEOUT_S", 0.0)  # every count times out
    if warm:  # a reply's usage measures the model's template
        farm.client().chat.completions.create(model=MODEL, messages=CHAT, max_tokens=1)
    key, secret = KeyStore(open_engine(farm.db)).create(
        "small", now=time.time(), token_quota=100, quota_period="day"
    )
    client = farm.client(secret)
    try:
        reply = client.chat.completions.create(
            model=MODEL, messages=CHAT, max_tokens=400, extra_body={"ignore_eos": True}
        )
        assert warm and reply.usage is not None and reply.usage.completion_tokens > 0
    except openai.RateLimitError:
        assert not warm  # before any measurement the default allowance leaves no room
    billed = sum(r.total_tokens for r in UsageStore(open_engine(farm.db)).records() if r.key_id == key.id)
    assert billed <= 100
