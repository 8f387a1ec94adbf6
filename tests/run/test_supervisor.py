"""BackendSupervisor's restart/health logic, driven tick by tick with a fake process and clock."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from rigshift.run.supervisor import BackendSupervisor, SupervisorSettings


class FakeProcess:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.killed = False

    def poll(self) -> int | None:
        return self.returncode

    def kill(self) -> None:
        self.killed = True
        self.returncode = -9

    def wait(self, timeout: float | None = None) -> int:
        return self.returncode if self.returncode is not None else 0


class World:
    """Clock, spawned processes and whether the backend answers its health check."""

    def __init__(self) -> None:
        self.now = 0.0
        self.processes: list[FakeProcess] = []
        self.healthy = False
        self.spawn_error: OSError | None = None
        self.probed: list[str] = []

    def spawn(self, argv: Sequence[str], env: dict[str, str]) -> FakeProcess:
        if self.spawn_error:
            raise self.spawn_error
        proc = FakeProcess(1000 + len(self.processes))
        self.processes.append(proc)
        return proc

    def probe(self, url: str) -> bool:
        self.probed.append(url)
        return self.healthy

    def clock(self) -> float:
        return self.now


SETTINGS = SupervisorSettings(start_timeout_s=10, unhealthy_after=3, backoff_base_s=1, backoff_max_s=8)


@pytest.fixture
def world() -> World:
    return World()


def make(world: World) -> BackendSupervisor:
    return BackendSupervisor(
        ["llama-server"],
        {},
        "http://127.0.0.1:9/health",
        spawn=world.spawn,
        probe=world.probe,
        clock=world.clock,
        settings=SETTINGS,
    )


def test_reports_ready_only_after_the_backend_answers(world: World) -> None:
    sup = make(world)
    assert sup.step() == "starting"
    assert len(world.processes) == 1
    world.now = 1
    assert sup.step() == "starting"  # process exists but does not answer yet
    world.healthy = True
    assert sup.step() == "ready"
    assert sup.wait_ready(0)
    assert world.probed[-1] == "http://127.0.0.1:9/health"


def test_restarts_a_dead_backend_with_growing_backoff(world: World) -> None:
    sup = make(world)
    sup.step()
    world.healthy = True
    sup.step()
    starts = []
    for _ in range(4):
        world.processes[-1].returncode = 1  # crash
        world.healthy = False
        crashed_at = world.now
        assert sup.step() == "unhealthy"
        n = len(world.processes)
        while len(world.processes) == n:
            world.now += 0.25
            sup.step()
        starts.append(world.now - crashed_at)
    # 1, 2, 4, 8 s: each crash in a row doubles the wait (never ready in between)
    assert starts == pytest.approx([1, 2, 4, 8], abs=0.3)
    status = sup.status()
    assert status.restarts == 4
    assert status.last_exit_code == 1


def test_backoff_resets_once_the_backend_served_again(world: World) -> None:
    sup = make(world)
    sup.step()
    for _ in range(3):
        world.processes[-1].returncode = 1
        sup.step()
        world.now += 10
        sup.step()
    world.healthy = True
    assert sup.step() == "ready"
    world.processes[-1].returncode = 1
    crashed_at = world.now
    sup.step()
    n = len(world.processes)
    while len(world.processes) == n:
        world.now += 0.25
        sup.step()
    assert world.now - crashed_at == pytest.approx(1, abs=0.3)


def test_kills_a_backend_that_stops_answering(world: World) -> None:
    sup = make(world)
    sup.step()
    world.healthy = True
    sup.step()
    world.healthy = False
    assert sup.step() == "ready"  # one missed check is tolerated
    sup.step()
    assert sup.step() == "unhealthy"
    assert world.processes[0].killed
    assert "health checks" in (sup.status().last_error or "")


def test_kills_a_backend_that_never_becomes_ready(world: World) -> None:
    sup = make(world)
    sup.step()
    world.now = 11
    assert sup.step() == "unhealthy"
    assert world.processes[0].killed
    world.now = 13
    sup.step()
    assert len(world.processes) == 2


def test_missing_binary_is_retried_not_raised(world: World) -> None:
    world.spawn_error = FileNotFoundError(2, "No such file")
    sup = make(world)
    assert sup.step() == "unhealthy"
    assert "cannot start llama-server" in (sup.status().last_error or "")
    world.spawn_error = None
    world.now = 5
    sup.step()
    assert len(world.processes) == 1


def test_stop_kills_and_stays_stopped(world: World) -> None:
    sup = make(world)
    sup.step()
    sup.stop()
    assert world.processes[0].killed
    world.now = 100
    assert sup.step() == "stopped"
    assert len(world.processes) == 1


def test_status_answers_while_a_health_probe_hangs(world: World) -> None:
    import threading

    release = threading.Event()
    entered = threading.Event()

    def slow_probe(url: str) -> bool:
        entered.set()
        release.wait(5)
        return True

    sup = BackendSupervisor(
        ["llama-server"],
        {},
        "http://h/health",
        spawn=world.spawn,
        probe=slow_probe,
        clock=world.clock,
        settings=SETTINGS,
    )
    sup.step()  # starts the process
    ticker = threading.Thread(target=sup.step)
    ticker.start()
    assert entered.wait(5)
    assert sup.status().state == "starting"  # not blocked behind the probe
    sup.stop()  # stopped while the probe was out: its late answer must not revive the replica
    release.set()
    ticker.join(5)
    assert sup.status().state == "stopped"
