"""A bounded soak (about a minute): the real llama-server behind the gateway, under mixed load.

Streaming and plain requests, clients hanging up mid-stream, keys created, used and revoked, a
quota-limited tenant hammering concurrently, and one backend killed halfway (its supervisor
restarts it). At the end the books must balance: one usage row per request that reached a
replica (200 started, whatever happened next), none for refused ones; rows of streams the crash
cut are 502 and the client saw an error event; every row has its prompt billed; the quota held.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llama_server import needs_llama_server
from rigshift.server.db import open_engine
from rigshift.server.stores.keys import KeyStore, key_id_of
from rigshift.server.stores.usage import UsageStore
from waiting import wait_until

from .test_llama_integration import MODEL, Farm

pytestmark = [
    pytest.mark.slow,
    needs_llama_server,
]

DURATION_S = 40.0
QUOTA = 400


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[Farm]:
    from rigshift.run.tiny_gguf import write_tiny_gguf

    model = write_tiny_gguf(tmp_path / "tiny.gguf")
    f = Farm(model, str(tmp_path / "rigshift.db"), tmp_path)
    yield f
    f.close()


class Ledger:
    """What the clients saw, counted under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []

    def add(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1


def _stream(client: httpx.Client, url: str, key: str, ledger: Ledger, abort: bool) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi " * 8}],
        "stream": True,
        "max_tokens": 48,
        "ignore_eos": True,
    }
    with client.stream("POST", url, json=body, headers={"authorization": f"Bearer {key}"}) as response:
        if response.status_code != 200:
            response.read()
            ledger.add(f"refused-{response.status_code}")
            return
        text = b""
        for chunk in response.iter_bytes():
            text += chunk
            if abort:
                ledger.add("reached")  # the stream began: a row must exist, whatever status
                ledger.add("aborted")
                return
        ledger.add("reached")
        if b"data: [DONE]" in text:
            ledger.add("stream-ok")
        elif b'"error"' in text:
            ledger.add("stream-cut")  # the backend died mid-stream and the client was told
        else:
            ledger.errors.append(f"a stream ended with neither [DONE] nor an error: {text[-200:]!r}")


def _plain(client: httpx.Client, url: str, key: str, ledger: Ledger) -> int:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
    response = client.post(url, json=body, headers={"authorization": f"Bearer {key}"})
    if response.status_code == 200:
        ledger.add("reached")
        ledger.add("plain-ok")
    else:
        assert response.json()["error"]["message"]  # OpenAI's shape, always
        ledger.add(f"refused-{response.status_code}")
    return response.status_code


def _enough(counts: Counter[str]) -> bool:
    return counts["stream-ok"] > 10 and counts["plain-ok"] > 10 and counts["churned"] >= 3


def test_soak_books_balance_under_mixed_load_and_a_backend_kill(farm: Farm):
    assert farm.gateway is not None
    base = farm.gateway.url
    url = base + "/v1/chat/completions"
    keys = KeyStore(open_engine(farm.db))
    admin = keys.create("ops", now=time.time(), admin=True)[1]
    quota_key = keys.create("metered", now=time.time(), token_quota=QUOTA, quota_period="day")[1]
    ledger = Ledger()
    stop = threading.Event()

    def streamer(n: int) -> None:
        with httpx.Client(timeout=60) as client:
            i = 0
            while not stop.is_set():
                _stream(client, url, farm.key, ledger, abort=(i + n) % 3 == 0)
                i += 1

    def plain() -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                status = _plain(client, url, farm.key, ledger)
                if status >= 500:  # a 429 (both replicas' queues full during the kill) is fair
                    ledger.errors.append(f"the plain tenant got {status}")

    def metered() -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                _plain(client, url, quota_key, ledger)

    def churn() -> None:
        admin_h = {"authorization": f"Bearer {admin}"}
        with httpx.Client(timeout=60) as client:
            n = 0
            while not stop.is_set():
                created = client.post(base + "/admin/keys", json={"name": f"churn-{n}"}, headers=admin_h)
                assert created.status_code == 201, created.text
                secret = created.json()["key"]
                for _ in range(2):
                    _plain(client, url, secret, ledger)
                assert (
                    client.delete(f"{base}/admin/keys/{created.json()['id']}", headers=admin_h).status_code
                    == 200
                )
                after = client.post(
                    url,
                    json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
                    headers={"authorization": f"Bearer {secret}"},
                )
                if after.status_code != 401:
                    ledger.errors.append(f"a revoked key got {after.status_code}")
                n += 1
                ledger.add("churned")

    workers = [threading.Thread(target=streamer, args=(n,)) for n in range(3)]
    workers += [threading.Thread(target=plain), threading.Thread(target=churn)]
    workers += [threading.Thread(target=metered) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        time.sleep(DURATION_S / 2)  # the soak's length: load, not a wait for a state
        assert farm.supervisors["r0"].kill_backend() is not None  # a crash under load
        time.sleep(DURATION_S / 2)
        # However slow the machine: every kind of traffic ran enough to count.
        wait_until(lambda: _enough(ledger.counts), "more traffic of every kind", timeout_s=120)
    finally:
        stop.set()
        for w in workers:
            w.join()

    store = UsageStore(open_engine(farm.db))
    router = farm.gateway.server.config.app.state.ctx.gateway.router
    # Aborted streams are metered just after the client left; a request's row is written before
    # the gateway lets go of its replica, so with nothing outstanding every row is in.
    wait_until(
        lambda: not router.outstanding and store.count() >= ledger.counts["reached"],
        "every request that reached a replica to be metered",
        timeout_s=60,
    )
    rows = store.records(limit=1_000_000)
    statuses = Counter(r.status for r in rows)
    print("soak:", dict(ledger.counts), "rows by status:", dict(statuses))
    assert ledger.errors == []
    assert _enough(ledger.counts)
    assert len(rows) == ledger.counts["reached"]  # one row per request that reached a replica
    assert set(statuses) <= {200, 499, 502}
    assert statuses[502] == ledger.counts["stream-cut"]
    served = ledger.counts["stream-ok"] + ledger.counts["plain-ok"]
    # A stream the client left is 499, or 200 when the backend finished before the gateway noticed.
    assert statuses[200] >= served and statuses[200] + statuses[499] == served + ledger.counts["aborted"]
    assert all(r.prompt_tokens > 0 for r in rows), [r for r in rows if r.prompt_tokens == 0][:3]
    metered_id = key_id_of(quota_key)
    billed = sum(r.total_tokens for r in rows if r.key_id == metered_id)
    assert 0 < billed <= QUOTA
    assert ledger.counts["refused-429"] > 0  # the quota did refuse the rest
