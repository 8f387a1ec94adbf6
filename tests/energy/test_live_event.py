"""Live: a demand-response event while interactive load and a Batch API batch run, on the production path.

Real processes: `rigshift server --energy` (Ray head, the energy loop, the batch runner),
`rigshift agent` with a fleet-file rig of two RTX 3060s whose power limits go through a fake
NVML (`--caps fake:PATH`), llama-server on the CPU serving the tiny model. While a client sends
chat requests and a batch of 1,000 lines runs on the replica's spare slots, an event asks the
site to shed: within 60 s the batch pauses (no line starts) and the agent applies the event's
caps; every interactive request succeeds; after the event the caps come back, the batch
resumes and completes with exactly 1,000 outputs, none repeated, each billed once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import openai
import pytest

from llama_server import needs_llama_server
from process_helpers import start_rigshift, stop_plane, tenant_key, wait_for
from rigshift.fleet.importer import read_source
from rigshift.fleet.store import dump_fleet
from rigshift.run.backends import find_llama_server
from rigshift.run.spec import ModelSource, ReplicaSpec, to_json
from rigshift.run.tiny_gguf import expected_text
from rigshift.server.db import open_engine
from rigshift.server.serving import free_port
from rigshift.server.stores.usage import UsageStore

pytestmark = [
    pytest.mark.slow,
    needs_llama_server,
]

TOKEN = "energy-live-join-token-0123456789abcdef"
REPLY = "Power from the farm"
FLEET = """
sites:
  - {name: tx, power_budget_kw: 5}
rigs:
  - name: r1
    site: tx
    gpus:
      - {model: RTX 3060 12GB, vram_gib: 12, count: 2, pcie: gen3x16}
"""


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[dict[str, object]]:
    ray_tmp = tempfile.mkdtemp(prefix="rse", dir="/tmp")
    port, ray_port = free_port(), free_port()
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "RIGSHIFT_LLAMA_SERVER": str(find_llama_server()),
    }
    (tmp_path / "in.yaml").write_text(FLEET)
    (tmp_path / "fleet.yaml").write_text(
        dump_fleet(read_source(tmp_path / "in.yaml").fleet, yaml_format=True)
    )
    now = time.time()
    start = datetime.fromtimestamp(now - 3600, UTC).replace(minute=0, second=0, microsecond=0)
    (tmp_path / "flat.yaml").write_text(
        f"usd_per_kwh: 0.03\nstart: {start.isoformat()}\nend: {datetime.fromtimestamp(now + 6 * 3600, UTC).isoformat()}\n"
    )
    (tmp_path / "energy.yaml").write_text(
        "fleet: fleet.yaml\nstep_minutes: 1\nsites:\n  tx:\n    prices: {file: flat.yaml}\n"
    )
    nvml = tmp_path / "nvml.json"
    card = {"default_w": 170.0, "min_w": 80.0, "max_w": 170.0, "cap_w": 170.0}
    nvml.write_text(json.dumps({"gpus": [card, dict(card)], "log": []}))
    procs: list[subprocess.Popen[bytes]] = []
    url = f"http://127.0.0.1:{port}"
    try:
        procs.append(
            start_rigshift(
                "server", "--port", str(port), "--db", str(tmp_path / "s.db"), "--join-token", TOKEN,
                "--ray-port", str(ray_port), "--ray-temp-dir", ray_tmp, "--energy", str(tmp_path / "energy.yaml"),
                log=tmp_path / "server.log", env=env,
            )
        )  # fmt: skip
        wait_for(lambda: httpx.get(url + "/healthz").status_code == 200, 90, "the server")
        procs.append(
            start_rigshift(
                "agent", "--server", url, "--token", TOKEN, "--fleet", str(tmp_path / "fleet.yaml"), "--rig", "r1",
                "--simulate", "--caps", f"fake:{nvml}", "--num-cpus", "1", "--telemetry-interval", "2",
                log=tmp_path / "agent.log", env=env,
            )
        )  # fmt: skip
        yield {"url": url, "db": str(tmp_path / "s.db"), "nvml": nvml, "log": tmp_path}
    finally:
        stop_plane(procs, ray_tmp)


def _caps(nvml: Path) -> list[float]:
    return [g["cap_w"] for g in json.loads(nvml.read_text())["gpus"]]


BATCH_LINES = 1000


def _batch_file(path: Path) -> Path:
    # 64 tokens a line (ignore_eos: the tiny model's reply is 9): slow enough to span the event.
    path.write_text(
        "".join(
            json.dumps(
                {
                    "custom_id": f"line-{i}",
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": {
                        "model": "tiny",
                        "messages": [{"role": "user", "content": f"q{i}"}],
                        "max_tokens": 64,
                        "ignore_eos": True,
                    },
                }
            )
            + "\n"
            for i in range(BATCH_LINES)
        )
    )
    return path


def test_demand_response_event_under_interactive_load_and_a_batch(plane: dict[str, object]) -> None:
    url, log, nvml = str(plane["url"]), plane["log"], plane["nvml"]
    assert isinstance(log, Path) and isinstance(nvml, Path)
    admin_key = re.search(r"admin key \(shown once\): (\S+)", (log / "server.log").read_text())
    assert admin_key, (log / "server.log").read_text()
    admin = {"authorization": f"Bearer {admin_key.group(1)}"}
    spec = ReplicaSpec("tiny-0", "tiny", "tiny", ModelSource("demo", REPLY), "r1", context=512, parallel=4)
    assert httpx.put(url + "/admin/deployments", content=to_json([spec]), headers=admin).status_code == 202
    wait_for(
        lambda: any(
            r["state"] == "ready" for r in httpx.get(url + "/admin/replicas", headers=admin).json()["data"]
        ),
        180,
        "the replica on rig r1",
    )
    key = tenant_key(str(plane["db"]))
    agent_auth = {"authorization": f"Bearer {TOKEN}"}

    def policy_caps() -> dict[int, float]:
        gpus = httpx.get(url + "/internal/energy/caps?rig=r1", headers=agent_auth).json()["gpus"]
        return {g["index"]: g["power_cap_w"] for g in gpus if g["power_cap_w"] is not None}

    def applied(index: int) -> float:
        return _caps(nvml)[index]

    def caps_applied(caps: dict[int, float]) -> bool:
        return bool(caps) and all(applied(index) == cap for index, cap in caps.items())

    # Before: the cards that serve carry the policy's caps, applied through the fake NVML.
    wait_for(lambda: len(policy_caps()) >= 1, 60, "the policy's first decision")
    before = policy_caps()
    wait_for(lambda: caps_applied(before), 60, "the caps applied by the agent")

    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=60)
    results: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def load() -> None:
        # A steady trickle (~4 requests/s): the replica keeps spare slots, which batch fills.
        while not stop.is_set():
            try:
                reply = client.chat.completions.create(
                    model="tiny", messages=[{"role": "user", "content": "hi"}]
                )
                results.append(reply.choices[0].message.content or "")
            except BaseException as error:  # every failure counts against the test
                errors.append(error)
            stop.wait(0.25)

    def site() -> dict[str, object]:
        return httpx.get(url + "/admin/energy", headers=admin).json()["sites"][0]

    def completed() -> int:
        counts = client.batches.retrieve(batch.id).request_counts
        return counts.completed + counts.failed if counts else 0

    worker = threading.Thread(target=load)
    worker.start()
    try:
        with _batch_file(log / "batch.jsonl").open("rb") as f:
            uploaded = client.files.create(file=f, purpose="batch")
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        wait_for(lambda: completed() >= 20, 120, "the batch under way on the replica's spare slots")
        # The batch runs on the serving replica's spare slots (the rig's other card holds no
        # replica, so the policy gives it no batch): the caps are the serving card's.
        before = policy_caps()
        wait_for(lambda: caps_applied(before), 60, "the caps applied by the agent")
        began = time.time()
        event = httpx.post(
            url + "/admin/energy/events",
            headers=admin,
            # Ended by hand once the pause has been seen: a slow machine cannot outlast it.
            json={"site": "tx", "shed_kw": 0.015, "end": began + 600},
        )
        assert event.status_code == 201, event.text
        # Under target within 60 s: lower caps (or fewer cards serving), applied through the fake NVML.
        try:
            wait_for(
                lambda: (
                    (now := policy_caps()) != before
                    and caps_applied(now)
                    and sum(now.values()) < sum(before.values())
                ),
                60,
                "the event's lower caps through the fake NVML",
            )
        except AssertionError as error:
            raise AssertionError(
                f"{error}: before {before}, now {policy_caps()}, NVML {_caps(nvml)}, {site()}"
            ) from None
        # Each step within 60 s (the waits' deadlines), not a wall-clock sum a loaded machine can miss.
        wait_for(lambda: not site()["batch_allowed"], 60, "the batch paused by the event")
        status = site()
        assert status["event"] is not None and status["planned_kw"] <= status["limit_kw"] + 1e-6
        # Paused: lines in flight finish (the count holds for 3 s, however long they took), then
        # no new line starts while the event lasts.
        paused_at = _settled(completed, hold_s=3, timeout=120)
        time.sleep(6)  # a span in which nothing may happen
        assert site()["event"] is not None, "the event ended before the pause could be seen"
        assert completed() == paused_at < BATCH_LINES
        ended = httpx.delete(url + f"/admin/energy/events/{event.json()['id']}", headers=admin)
        assert ended.status_code == 200, ended.text
        # After the event: work resumes at the caps it had, and the batch runs to the end.
        wait_for(
            lambda: policy_caps() == before and caps_applied(before), 90, "the caps back after the event"
        )
        wait_for(lambda: completed() > paused_at, 60, "the batch resumed after the event")
        done = _wait_for_batch(client, batch.id, 300)
    finally:
        stop.set()
        worker.join(timeout=90)
    assert not errors, errors[:3]
    assert results and all(r.strip() == expected_text(REPLY) for r in results)
    stored = httpx.get(url + "/admin/energy/events", headers=admin).json()["data"][0]
    assert stored["under_target_after_s"] is not None and stored["under_target_after_s"] <= 60
    assert stored["max_kw_shed"] >= 0.015 - 1e-6
    assert stored["paused"]["batch_paused"] is True, json.dumps(stored)

    assert done.status == "completed" and done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (BATCH_LINES, 0)
    assert done.output_file_id is not None and done.error_file_id is None
    outputs = [json.loads(x) for x in client.files.content(done.output_file_id).text.splitlines()]
    assert [o["custom_id"] for o in outputs] == [f"line-{i}" for i in range(BATCH_LINES)]  # once each
    assert all(o["response"]["status_code"] == 200 for o in outputs)
    bodies = [o["response"]["body"] for o in outputs]
    assert all(b["choices"][0]["message"]["content"].strip().startswith(expected_text(REPLY)) for b in bodies)
    assert all(b["usage"]["completion_tokens"] == 64 for b in bodies)
    rows = UsageStore(open_engine(str(plane["db"]))).records(limit=100_000)
    billed = [r for r in rows if r.batch_id == batch.id]
    assert len(billed) == BATCH_LINES and len({r.id for r in billed}) == BATCH_LINES


def _settled(read: Callable[[], int], hold_s: float, timeout: float) -> int:
    """`read()` once it has not changed for `hold_s` seconds (polled; fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    value, since = read(), time.monotonic()
    while time.monotonic() - since < hold_s:
        assert time.monotonic() < deadline, f"still changing after {timeout:.0f} s (now {value})"
        time.sleep(0.3)
        now = read()
        if now != value:
            value, since = now, time.monotonic()
    return value


def _wait_for_batch(client: openai.OpenAI, batch_id: str, timeout: float) -> openai.types.Batch:
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in {"completed", "failed", "expired", "cancelled"}:
            return batch
        assert time.monotonic() < deadline, f"the batch is still {batch.status}: {batch.request_counts}"
        time.sleep(1)
