"""The loop the energy service, the cap applier, the replica manager and telemetry run on."""

from __future__ import annotations

import threading

from rigshift.ticker import Ticker
from waiting import wait_until


def test_a_failing_tick_is_reported_and_the_loop_goes_on():
    ticks: list[int] = []
    failures: list[Exception] = []

    def tick() -> None:
        ticks.append(len(ticks))
        if len(ticks) == 1:
            raise RuntimeError("a locked database")

    loop = Ticker("test-loop", tick, failures.append)
    loop.start(0.001)
    wait_until(lambda: len(ticks) >= 3, "ticks after the failed one")
    loop.stop(join_s=10)
    assert [str(f) for f in failures] == ["a locked database"]


def test_wake_ticks_before_the_interval_ends_and_stop_ends_the_thread():
    ticked = threading.Semaphore(0)
    loop = Ticker("test-loop", ticked.release, lambda error: None)
    loop.start(3600.0)  # without wake() the second tick would come in an hour
    assert ticked.acquire(timeout=30)
    loop.wake()
    assert ticked.acquire(timeout=30)
    loop.stop(join_s=30)
    assert not any(t.name == "test-loop" for t in threading.enumerate())


def test_start_twice_runs_one_thread():
    loop = Ticker("test-once", lambda: None, lambda error: None)
    loop.start(3600.0)
    loop.start(3600.0)
    assert sum(t.name == "test-once" for t in threading.enumerate()) == 1
    loop.stop(join_s=30)
