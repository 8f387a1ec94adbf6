"""What a client sends never takes a replica out of rotation (issue 13, High #1).

A backend's 4xx, or a 5xx the request itself caused, is the client's answer, not a sign the
replica is sick: before, one such request per second made most of another tenant's requests fail
with 503 because the gateway reported the replica as failing. Only a replica that does not answer
at all (refused or reset connection) is reported, and its health probe decides when it is back.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from .conftest import dead_url, replica

CHAT = [{"role": "user", "content": "hi"}]


def _post(url: str, key: str, content: str) -> int:
    return httpx.post(
        url + "/v1/chat/completions",
        json={"model": "tiny", "messages": [{"role": "user", "content": content}]},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    ).status_code


@pytest.mark.parametrize("poison_status", [500, 400, 422])
def test_a_tenant_sending_bad_requests_cannot_make_another_tenants_requests_fail(
    backends, gateway, poison_status
):
    backend = backends(poison="POISON", poison_status=poison_status)
    gw = gateway([replica("only", backend.url)])
    attacker, victim = gw.key("attacker"), gw.key("victim")
    stop = threading.Event()
    attacker_statuses: list[int] = []

    def attack() -> None:
        while not stop.is_set():
            attacker_statuses.append(_post(gw.url, attacker, "POISON"))
            time.sleep(0.05)

    thread = threading.Thread(target=attack)
    thread.start()
    try:
        victim_statuses = []
        for _ in range(40):
            victim_statuses.append(_post(gw.url, victim, "hello"))
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join()
    assert len(attacker_statuses) >= 5
    assert set(attacker_statuses) == {502 if poison_status >= 500 else poison_status}
    assert victim_statuses == [200] * 40
    assert gw.directory.failures == []  # nobody told the data plane the replica was failing
    assert [r.state for r in gw.directory.replicas()] == ["ready"]


def test_a_request_caused_500_is_not_retried_on_every_other_replica(backends, gateway):
    a = backends(poison="POISON")
    b = backends(poison="POISON")
    gw = gateway([replica("a", a.url), replica("b", b.url)])
    assert _post(gw.url, gw.key(), "POISON") == 502
    assert a.state.requests + b.state.requests == 1  # no amplification across the pool
    assert gw.directory.failures == []


def test_an_unreachable_replica_is_still_taken_out_and_the_request_moves_on(backends, gateway):
    good = backends()
    gw = gateway([replica("dead", dead_url()), replica("good", good.url)])
    key = gw.key()
    assert [_post(gw.url, key, "hi") for _ in range(4)] == [200] * 4
    assert {replica_id for replica_id, _ in gw.directory.failures} == {"dead"}
