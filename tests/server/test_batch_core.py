"""The Batch API's core on a real database with a fake dispatcher: validation, checkpoints,
pause/resume, cancel, expiry and tenant isolation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from rigshift.errors import InputError
from rigshift.server.batch_input import BatchLine, parse_batch_file
from rigshift.server.batch_runner import BatchRunner, DispatchResult
from rigshift.server.errors import NotFound
from rigshift.server.services.batches import BatchService
from rigshift.server.stores.batches import BatchStore, FileStore
from rigshift.server.stores.keys import ApiKey
from rigshift.server.stores.usage import UsageRecord, UsageStore

CHAT = "/v1/chat/completions"
ALICE = ApiKey(id="alice", name="alice")
BOB = ApiKey(id="bob", name="bob")


def jsonl(n: int, *, model: str = "tiny", url: str = CHAT, start: int = 0) -> bytes:
    rows = [
        {
            "custom_id": f"req-{i}",
            "method": "POST",
            "url": url,
            "body": {"model": model, "messages": [{"role": "user", "content": f"line {i}"}]},
        }
        for i in range(start, start + n)
    ]
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


class FakeDispatcher:
    """Answers each line with its custom_id echoed; counts what reached the 'backend'."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sent: list[str] = []
        self.fail_ids: set[str] = set()
        self.retry_ids: set[str] = set()
        self.gate: asyncio.Event | None = None

    async def dispatch(self, key_id: str, endpoint: str, line: BatchLine) -> DispatchResult:
        if line.custom_id in self.retry_ids:
            return DispatchResult(retry_later=True, reason="no free slot")
        if self.gate is not None:
            await self.gate.wait()
        self.sent.append(line.custom_id)
        if line.custom_id in self.fail_ids:
            body = json.dumps({"error": {"message": "bad request", "code": "invalid_request"}}).encode()
            return DispatchResult(400, body, None)
        answer = {"choices": [{"message": {"content": line.custom_id}}], "usage": {"prompt_tokens": 3}}
        usage = UsageRecord(
            id=f"u-{line.custom_id}-{len(self.sent)}",
            created_at=self.clock(),
            key_id=key_id,
            endpoint=endpoint,
            model=line.model,
            replica_id="r1",
            rig="rig-a",
            gpus=("rig-a/0",),
            prompt_tokens=3,
            completion_tokens=2,
            duration_ms=5.0,
            energy_wh=0.01,
            status=200,
        )
        return DispatchResult(200, json.dumps(answer).encode(), usage)


class Gate:
    def __init__(self) -> None:
        self.open = True

    def batch_allowed(self, now: float) -> bool:
        return self.open


@pytest.fixture
def setup(
    engine: Engine, tmp_path: Path
) -> Iterator[tuple[BatchService, BatchRunner, FakeDispatcher, Gate, Clock]]:
    clock = Clock()
    service = BatchService(FileStore(engine, tmp_path / "files"), BatchStore(engine), clock)
    dispatcher = FakeDispatcher(clock)
    gate = Gate()
    runner = BatchRunner(service, dispatcher, gate, concurrency=4, poll_s=0.01)
    yield service, runner, dispatcher, gate, clock


def run_until_idle(runner: BatchRunner, ticks: int = 100) -> None:
    async def go() -> None:
        for _ in range(ticks):
            await runner.tick()

    asyncio.run(go())


def output_lines(service: BatchService, key: ApiKey, file_id: str | None) -> list[dict]:
    assert file_id is not None
    return [json.loads(x) for x in service.file_bytes(key, file_id).decode().splitlines()]


def test_parse_refuses_bad_lines_with_line_numbers() -> None:
    content = b"\n".join(
        [
            b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m"}}',
            b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m"}}',
            b'{"custom_id": "b", "url": "/v1/embeddings", "body": {"model": "m"}}',
            b'{"custom_id": "c", "url": "/v1/chat/completions", "body": {"model": "m", "t": NaN}}',
            b"not json",
            b'{"custom_id": "d", "url": "/v1/chat/completions", "body": {}}',
        ]
    )
    lines, problems = parse_batch_file(content, CHAT)
    assert [(p.line, p.code) for p in problems] == [
        (2, "duplicate_custom_id"),
        (3, "mismatched_endpoint"),
        (4, "invalid_json_line"),
        (5, "invalid_json_line"),
        (6, "missing_model"),
    ]
    assert [line.custom_id for line in lines] == ["a"]


def test_batch_runs_every_line_once_in_input_order(setup) -> None:
    service, runner, dispatcher, _gate, _clock = setup
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(10))
    batch = service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    assert batch.status == "in_progress" and batch.total == 10
    run_until_idle(runner)
    done = service.get(ALICE, batch.id)
    assert done.status == "completed"
    assert (done.completed, done.failed) == (10, 0)
    lines = output_lines(service, ALICE, done.output_file_id)
    assert [x["custom_id"] for x in lines] == [f"req-{i}" for i in range(10)]
    assert all(x["response"]["status_code"] == 200 and x["error"] is None for x in lines)
    assert sorted(dispatcher.sent) == sorted(f"req-{i}" for i in range(10))
    usage = UsageStore(service.files.engine).records(key_id="alice")
    assert len(usage) == 10  # one billed usage row per line


def test_backend_errors_go_to_the_error_file(setup) -> None:
    service, runner, dispatcher, _gate, _clock = setup
    dispatcher.fail_ids = {"req-1"}
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(3))
    batch = service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    run_until_idle(runner)
    done = service.get(ALICE, batch.id)
    assert (done.completed, done.failed) == (2, 1)
    errors = output_lines(service, ALICE, done.error_file_id)
    assert [e["custom_id"] for e in errors] == ["req-1"]
    assert errors[0]["response"]["status_code"] == 400
    assert errors[0]["error"]["message"] == "bad request"


def test_closed_gate_pauses_and_reopened_gate_resumes_without_repeats(setup) -> None:
    service, runner, dispatcher, gate, _clock = setup
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(12))
    batch = service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    asyncio.run(runner.tick())  # one chunk of `concurrency` lines
    assert len(dispatcher.sent) == 4
    gate.open = False
    run_until_idle(runner, ticks=5)
    assert len(dispatcher.sent) == 4 and runner.paused
    assert service.get(ALICE, batch.id).status == "in_progress"
    gate.open = True
    run_until_idle(runner)
    assert sorted(dispatcher.sent) == sorted(f"req-{i}" for i in range(12))
    assert service.get(ALICE, batch.id).status == "completed"


def test_restart_resumes_from_the_recorded_lines(setup, engine: Engine, tmp_path: Path) -> None:
    service, runner, dispatcher, _gate, clock = setup
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(9))
    batch = service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    asyncio.run(runner.tick())
    # A new server process: fresh service, runner and dispatcher over the same database.
    service2 = BatchService(FileStore(engine, tmp_path / "files"), BatchStore(engine), clock)
    dispatcher2 = FakeDispatcher(clock)
    run_until_idle(BatchRunner(service2, dispatcher2, concurrency=4))
    assert len(dispatcher.sent) == 4 and len(dispatcher2.sent) == 5
    assert not set(dispatcher.sent) & set(dispatcher2.sent)
    lines = output_lines(service2, ALICE, service2.get(ALICE, batch.id).output_file_id)
    assert [x["custom_id"] for x in lines] == [f"req-{i}" for i in range(9)]


def test_a_line_is_recorded_at_most_once(setup, engine: Engine) -> None:
    service, runner, _dispatcher, _gate, _clock = setup
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(1))
    batch = service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    line = next(service.lines_of(batch))
    first = asyncio.run(runner._run_line(batch, "chat", line))
    second = asyncio.run(runner._run_line(batch, "chat", line))
    assert (first, second) == (1, 0)
    assert len(UsageStore(engine).records(key_id="alice")) == 1  # the duplicate is not billed


def test_lines_without_a_free_slot_wait_instead_of_failing(setup) -> None:
    service, runner, dispatcher, _gate, _clock = setup
    dispatcher.retry_ids = {"req-0"}
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(2))
    batch = service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    run_until_idle(runner, ticks=5)
    assert service.get(ALICE, batch.id).status == "in_progress"
    dispatcher.retry_ids = set()
    run_until_idle(runner, ticks=5)
    done = service.get(ALICE, batch.id)
    assert done.status == "completed" and done.completed == 2


def test_cancel_delivers_what_ran_and_stops_the_rest(setup) -> None:
    service, runner, dispatcher, _gate, _clock = setup
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(10))
    batch = service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    asyncio.run(runner.tick())
    assert service.cancel(ALICE, batch.id).status == "cancelling"
    run_until_idle(runner, ticks=3)
    done = service.get(ALICE, batch.id)
    assert done.status == "cancelled" and done.completed == 4 and len(dispatcher.sent) == 4
    assert len(output_lines(service, ALICE, done.output_file_id)) == 4
    assert service.cancel(ALICE, batch.id).status == "cancelled"  # idempotent


def test_a_finished_batch_cannot_be_cancelled(setup) -> None:
    service, runner, _dispatcher, _gate, _clock = setup
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(1))
    batch = service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    run_until_idle(runner, ticks=3)
    with pytest.raises(InputError) as error:
        service.cancel(ALICE, batch.id)
    assert "completed" in str(error.value)


def test_expired_batch_keeps_finished_lines(setup) -> None:
    service, runner, _dispatcher, _gate, clock = setup
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(8))
    batch = service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    asyncio.run(runner.tick())
    clock.t += 24 * 3600 + 1
    run_until_idle(runner, ticks=2)
    done = service.get(ALICE, batch.id)
    assert done.status == "expired" and done.completed == 4


def test_invalid_file_makes_a_failed_batch_and_runs_nothing(setup) -> None:
    service, runner, dispatcher, _gate, _clock = setup
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(2) + b"{broken\n")
    batch = service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    assert batch.status == "failed"
    assert batch.errors is not None and batch.errors[0]["line"] == 3
    run_until_idle(runner, ticks=3)
    assert dispatcher.sent == []


def test_models_the_key_may_not_use_fail_the_batch(setup) -> None:
    service, _runner, _dispatcher, _gate, _clock = setup
    limited = ApiKey(id="carol", name="carol", allowed_models=("tiny",))
    upload = service.upload(limited, "batch", "in.jsonl", jsonl(1) + jsonl(1, model="big", start=5))
    batch = service.create(limited, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    assert batch.status == "failed"
    assert batch.errors == [
        {
            "code": "model_not_allowed",
            "message": "this API key may not use model 'big'",
            "param": None,
            "line": 2,
        }
    ]


def test_tenants_see_only_their_own_files_and_batches(setup) -> None:
    service, _runner, _dispatcher, _gate, _clock = setup
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(1))
    batch = service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    for call in (
        lambda: service.file(BOB, upload.id),
        lambda: service.file_bytes(BOB, upload.id),
        lambda: service.file_path(BOB, upload.id),
        lambda: service.delete_file(BOB, upload.id),
        lambda: service.get(BOB, batch.id),
        lambda: service.cancel(BOB, batch.id),
        lambda: service.create(BOB, input_file_id=upload.id, endpoint=CHAT, completion_window="24h"),
    ):
        with pytest.raises(NotFound):
            call()
    assert service.page(BOB, after=None, limit=20) == []
    assert [b.id for b in service.page(ALICE, after=None, limit=20)] == [batch.id]
    assert service.get(ALICE, batch.id).status == "in_progress"  # BOB's cancel changed nothing


@pytest.mark.parametrize(
    ("purpose", "content", "field"),
    [("fine-tune", b"{}", "purpose"), ("batch", b"", "file")],
)
def test_upload_refuses_bad_purpose_and_empty_files(setup, purpose: str, content: bytes, field: str) -> None:
    service = setup[0]
    with pytest.raises(InputError) as error:
        service.upload(ALICE, purpose, "in.jsonl", content)
    assert error.value.problems[0].field == field
    assert service.files.page(ALICE.id) == []


def test_list_pages_with_after(setup) -> None:
    service, _runner, _dispatcher, _gate, clock = setup
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(1))
    ids = []
    for _ in range(5):
        clock.t += 1
        ids.append(service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h").id)
    first = service.page(ALICE, after=None, limit=2)
    second = service.page(ALICE, after=first[-1].id, limit=2)
    assert [b.id for b in first + second] == list(reversed(ids))[:4]


def test_batch_lines_are_billed_at_the_batch_price(setup, engine: Engine) -> None:
    from rigshift.server.metering import BATCH_PRICE_FACTOR, TokenPrices

    service, runner, _dispatcher, _gate, clock = setup
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(4))
    service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    run_until_idle(runner)
    store = UsageStore(engine)
    interactive = UsageRecord(
        id="interactive-1", created_at=clock(), key_id="alice", endpoint="chat", model="tiny",
        replica_id="r1", rig="rig-a", gpus=("rig-a/0",), prompt_tokens=3, completion_tokens=2,
        duration_ms=5.0, energy_wh=0.01, status=200,
    )  # fmt: skip
    store.insert_many([interactive])
    prices = TokenPrices(1.0, 2.0)
    [summary] = store.summarise("key", prices, now=clock())
    one_line = prices.revenue_usd(3, 2)
    assert summary.requests == 5
    assert summary.revenue_usd == pytest.approx(one_line + 4 * BATCH_PRICE_FACTOR * one_line)
