"""Batch input streamed from the file store, never held whole in memory, and lines a batch never
ran before it expired reported in its error file as OpenAI reports them (issue 19, item 3).

On the real SQLite store (or PostgreSQL with RIGSHIFT_TEST_POSTGRES_URL) with a fake dispatcher.
"""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from rigshift.server.batch_runner import BatchRunner
from rigshift.server.services.batches import BatchService
from rigshift.server.stores.batches import Batch, BatchStore, FileStore
from rigshift.server.stores.keys import ApiKey

from .test_batch_core import CHAT, Clock, FakeDispatcher, Gate, jsonl, output_lines, run_until_idle

ALICE = ApiKey(id="alice", name="alice")
DAY = 24 * 3600


def _service(engine: Engine, tmp_path: Path, clock: Clock) -> BatchService:
    return BatchService(FileStore(engine, tmp_path / "files"), BatchStore(engine), clock)


def test_lines_never_run_before_expiry_are_batch_expired_errors(engine: Engine, tmp_path: Path) -> None:
    clock = Clock()
    service = _service(engine, tmp_path, clock)
    dispatcher = FakeDispatcher(clock)
    dispatcher.fail_ids = {"req-1"}
    runner = BatchRunner(service, dispatcher, concurrency=4)
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(10))
    batch = service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    asyncio.run(runner.tick())  # req-0..3 run (req-1 fails at the backend)
    clock.t += DAY + 1
    run_until_idle(runner, ticks=2)
    done = service.get(ALICE, batch.id)
    assert done.status == "expired" and (done.completed, done.failed) == (3, 1)
    assert [x["custom_id"] for x in output_lines(service, ALICE, done.output_file_id)] == [
        "req-0",
        "req-2",
        "req-3",
    ]
    errors = {e["custom_id"]: e for e in output_lines(service, ALICE, done.error_file_id)}
    assert set(errors) == {"req-1", *(f"req-{i}" for i in range(4, 10))}
    assert errors["req-1"]["response"]["status_code"] == 400  # the backend's own answer
    for custom_id in (f"req-{i}" for i in range(4, 10)):
        expired = errors[custom_id]
        assert expired["response"] is None and expired["id"].startswith("batch_req_")
        assert expired["error"]["code"] == "batch_expired"
        assert "completion window" in expired["error"]["message"]
    assert len({e["id"] for e in errors.values()}) == len(errors)
    assert sorted(dispatcher.sent) == ["req-0", "req-1", "req-2", "req-3"]  # nothing ran after expiry


def test_a_completed_or_cancelled_batch_reports_no_expired_lines(engine: Engine, tmp_path: Path) -> None:
    clock = Clock()
    service = _service(engine, tmp_path, clock)
    runner = BatchRunner(service, FakeDispatcher(clock), concurrency=4)
    finished = service.create(
        ALICE,
        input_file_id=service.upload(ALICE, "batch", "a.jsonl", jsonl(3)).id,
        endpoint=CHAT,
        completion_window="24h",
    )
    run_until_idle(runner, ticks=3)
    assert service.get(ALICE, finished.id).error_file_id is None
    stopped = service.create(
        ALICE,
        input_file_id=service.upload(ALICE, "batch", "b.jsonl", jsonl(9)).id,
        endpoint=CHAT,
        completion_window="24h",
    )
    asyncio.run(runner.tick())
    service.cancel(ALICE, stopped.id)
    run_until_idle(runner, ticks=2)
    cancelled = service.get(ALICE, stopped.id)
    assert cancelled.status == "cancelled" and cancelled.error_file_id is None


def _big_file(lines: int, line_bytes: int) -> bytes:
    """`lines` requests of about `line_bytes` each (the prompt pads them)."""
    rows = (
        {
            "custom_id": f"req-{i}",
            "method": "POST",
            "url": CHAT,
            "body": {"model": "tiny", "messages": [{"role": "user", "content": "x" * (line_bytes - 150)}]},
        }
        for i in range(lines)
    )
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _peak(step: Callable[[], object]) -> int:
    """The most Python memory `step` held at once, beyond what was held before it (bytes)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


def _through_a_batch(engine: Engine, tmp_path: Path, size_mb: int) -> dict[str, int]:
    """Peak memory of each step of a batch over a `size_mb` input: create (validation), running
    lines, the energy policy's backlog, and expiry (its error file lists every line not run)."""
    clock = Clock()
    service = _service(engine, tmp_path, clock)
    runner = BatchRunner(service, FakeDispatcher(clock), concurrency=4)
    count = 4_000
    upload = service.upload(ALICE, "batch", "in.jsonl", _big_file(count, size_mb * 1024 * 1024 // count))
    assert upload.bytes > (size_mb - 1) * 1024 * 1024
    made: list[Batch] = []
    peaks = {
        "create": _peak(
            lambda: made.append(
                service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
            )
        )
    }
    assert made[0].status == "in_progress" and made[0].total == count
    peaks["run"] = _peak(lambda: run_until_idle(runner, ticks=3))
    peaks["backlog"] = _peak(runner.backlog)
    clock.t += DAY + 1
    peaks["expire"] = _peak(lambda: run_until_idle(runner, ticks=1))
    done = service.get(ALICE, made[0].id)
    assert done.status == "expired" and done.completed == 12
    assert done.error_file_id is not None
    expired = service.files.lines(ALICE.id, done.error_file_id)
    assert expired is not None and sum(1 for _ in expired) == count - 12
    return peaks


def test_a_batch_holds_its_input_one_line_at_a_time(engine: Engine, tmp_path: Path) -> None:
    """Regression: the runner kept every parsed line of a batch in memory (and creating a batch
    parsed them all into a list): a 100 MB input held 100 MB+ per batch. Now no step of a batch
    holds more than a small part of a 16 MB input."""
    peaks = _through_a_batch(engine, tmp_path, 16)
    assert max(peaks.values()) < 3 * 1024 * 1024, peaks


@pytest.mark.slow  # a 100 MB input through every step, ~1 minute under tracemalloc
def test_a_100_mb_batch_input_keeps_memory_bounded(engine: Engine, tmp_path: Path) -> None:
    peaks = _through_a_batch(engine, tmp_path, 100)
    assert max(peaks.values()) < 8 * 1024 * 1024, peaks


def test_a_batch_whose_lines_all_ran_completes_while_the_gate_is_closed(
    engine: Engine, tmp_path: Path
) -> None:
    clock = Clock()
    service = _service(engine, tmp_path, clock)
    gate = Gate()
    runner = BatchRunner(service, FakeDispatcher(clock), gate, concurrency=4)
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(4))
    batch = service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    asyncio.run(runner.tick())  # all four lines run
    gate.open = False
    asyncio.run(runner.tick())
    assert service.get(ALICE, batch.id).status == "completed" and runner.paused
