"""What a client sends never takes a replica out of rotation (issue 13, High #1).

A backend's 4xx, or a 5xx the request itself caused, is the client's answer, not a sign the
replica is sick: before, one such request per second made most of another tenant's requests fail
with 503 because the gateway reported the replica as failing. Only a replica that does not answer
at all (refused or reset connection) is reported, and its health probe decides when it is back.
"""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from rigshift.run.contracts import ReplicaEndpoint
from waiting import wait_until

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
        victim_statuses: list[int] = []
        # At least 40 requests, interleaved with at least 5 of the attacker's however busy the
        # machine is (bounded: the attacker thread must get going at all).
        deadline = time.monotonic() + 120
        while len(victim_statuses) < 40 or (len(attacker_statuses) < 5 and time.monotonic() < deadline):
            victim_statuses.append(_post(gw.url, victim, "hello"))
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join()
    assert len(attacker_statuses) >= 5
    assert set(attacker_statuses) == {502 if poison_status >= 500 else poison_status}
    assert set(victim_statuses) == {200}
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


def test_a_replica_that_stopped_answering_is_back_once_its_health_probe_answers(gateway):
    from rigshift.server.serving import serve_in_thread

    from .fake_backend import create_fake_backend

    # The port is held (bound, not listening: connections are refused) until the backend takes
    # it, so no other test's server can pick it meanwhile and answer the probes (a free_port()
    # left unheld let one do so under xdist: the replica came back early and the count stalled).
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    gw = gateway([replica("late", f"http://127.0.0.1:{port}")], cooldown_s=0.2, health_probe_s=0.1)
    key = gw.key()
    assert _post(gw.url, key, "hi") == 502  # nothing listens yet: reported, out of rotation
    assert _post(gw.url, key, "hi") == 503
    assert [r.state for r in gw.directory.replicas()] == ["unhealthy"]
    probes: list[int] = []  # replicas handed to the health probe, per round
    suspects = gw.directory.suspects

    def counted_suspects() -> list[ReplicaEndpoint]:
        due = suspects()
        probes.append(len(due))
        return due

    gw.directory.suspects = counted_suspects  # type: ignore[method-assign]
    # Probed three times (a fourth is due): still nothing there, still out.
    wait_until(lambda: sum(probes) >= 4, "the replica's health to be probed three times")
    assert [r.state for r in gw.directory.replicas()] == ["unhealthy"]
    assert _post(gw.url, key, "hi") == 503
    holder.close()
    backend = serve_in_thread(create_fake_backend(), port=port)
    try:
        wait_until(lambda: gw.directory.replicas()[0].state == "ready", "the replica back in rotation")
        assert _post(gw.url, key, "hi") == 200  # its /health answered: back in rotation
        assert len(gw.directory.failures) == 1
    finally:
        backend.stop()
