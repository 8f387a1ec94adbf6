"""Batch API files, bounded: bytes on disk (not in the database), per-tenant limits, listing that
pages, the file's own line numbers, and quota-starved lines reported (issue 19, item 3)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openai
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, insert, select

import rigshift.server.db as server_db
from rigshift.errors import EnvironmentProblem, InputError
from rigshift.server.batch_input import BatchLine, parse_batch_file
from rigshift.server.batch_runner import BatchRunner, DispatchResult
from rigshift.server.errors import ApiError
from rigshift.server.file_uploads import FileLimits
from rigshift.server.services.batches import BatchService
from rigshift.server.stores.batches import Batch, BatchStore, FileStore
from rigshift.server.stores.keys import ApiKey, KeyStore
from rigshift.server.tables import files

from .conftest import Backend, Gateway, replica
from .test_batch_core import CHAT, Clock, FakeDispatcher, jsonl, run_until_idle

ALICE = ApiKey(id="alice", name="alice")
BOB = ApiKey(id="bob", name="bob")


def service_with(engine: Engine, root: Path, clock: Clock, **limits: int) -> BatchService:
    return BatchService(FileStore(engine, root), BatchStore(engine), clock, limits=FileLimits(**limits))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "files"


def blobs(root: Path) -> list[Path]:
    """Every file under the store's directory, partial uploads included."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- bytes on disk, metadata in the database ------------------------------------------------------


def test_uploaded_bytes_live_on_disk_with_a_checksum_and_delete_removes_them(
    engine: Engine, root: Path
) -> None:
    service = service_with(engine, root, Clock())
    content = jsonl(3)
    stored = service.upload(ALICE, "batch", "in.jsonl", content)
    with engine.connect() as conn:
        row = conn.execute(select(files).where(files.c.id == stored.id)).one()
    assert row.content is None  # the database keeps metadata only
    assert row.sha256 == hashlib.sha256(content).hexdigest()
    [blob] = blobs(root)
    assert blob.read_bytes() == content
    assert service.file_bytes(ALICE, stored.id) == content
    service.delete_file(ALICE, stored.id)
    assert blobs(root) == []


def test_a_refused_upload_leaves_no_bytes_and_no_row(engine: Engine, root: Path) -> None:
    service = service_with(engine, root, Clock())
    with pytest.raises(InputError):
        service.upload(ALICE, "fine-tune", "in.jsonl", jsonl(1))
    upload = service.begin_upload(ALICE)
    upload.write(b'{"custom_id": "a"}\n')
    upload.abort()  # the client went away mid-body
    assert blobs(root) == [] and service.files.page(ALICE.id) == []


def test_a_file_over_the_size_limit_is_refused_while_it_streams(engine: Engine, root: Path) -> None:
    service = service_with(engine, root, Clock(), max_file_bytes=1000)
    upload = service.begin_upload(ALICE)
    upload.write(b"x" * 600)
    with pytest.raises(ApiError) as error:
        upload.write(b"x" * 600)
    upload.abort()
    assert error.value.http_status == 413 and "1000" in error.value.message
    assert blobs(root) == [] and service.files.page(ALICE.id) == []


def test_bytes_damaged_on_disk_are_an_error_not_wrong_work(engine: Engine, root: Path) -> None:
    service = service_with(engine, root, Clock())
    stored = service.upload(ALICE, "batch", "in.jsonl", jsonl(2))
    blob = root / stored.id
    blob.write_bytes(blob.read_bytes().replace(b"line 1", b"line 9"))
    with pytest.raises(EnvironmentProblem, match="checksum"):
        service.create(ALICE, input_file_id=stored.id, endpoint=CHAT, completion_window="24h")


def _alembic(engine: Engine, action: Callable[[Config], None]) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(server_db.__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        action(config)


def test_files_stored_in_rows_before_move_to_disk_and_nothing_is_lost(engine: Engine, root: Path) -> None:
    # The database as the last version that kept file bytes in rows left it, holding one such file.
    _alembic(engine, lambda config: command.downgrade(config, "0007_measurement_samples"))
    content = jsonl(2)
    with engine.begin() as conn:
        conn.execute(
            insert(files).values(
                id="file-0123456789abcdef00000001",
                key_id="alice",
                purpose="batch",
                filename="old.jsonl",
                bytes=len(content),
                created_at=1_700_000_000.0,
                content=content,
            )
        )
    server_db.migrate(engine)  # what the next start does
    store = FileStore(engine, root)
    assert store.adopt_legacy() == 1
    service = BatchService(store, BatchStore(engine), Clock())
    assert service.file_bytes(ALICE, "file-0123456789abcdef00000001") == content
    with engine.connect() as conn:
        row = conn.execute(select(files).where(files.c.id == "file-0123456789abcdef00000001")).one()
    assert row.content is None and row.sha256 == hashlib.sha256(content).hexdigest()
    assert store.adopt_legacy() == 0  # idempotent: a second start moves nothing
    with pytest.raises(RuntimeError, match="on disk only"):  # a downgrade would lose the bytes
        _alembic(engine, lambda config: command.downgrade(config, "0007_measurement_samples"))


def test_a_server_started_on_an_old_database_serves_its_files_from_disk(
    engine: Engine, gateway: Callable[..., Gateway], backends: Callable[..., Backend], tmp_path: Path
) -> None:
    _alembic(engine, lambda config: command.downgrade(config, "0007_measurement_samples"))
    key, secret = KeyStore(engine).create("alice", now=1_700_000_000.0)
    content = jsonl(3)
    with engine.begin() as conn:
        conn.execute(
            insert(files).values(
                id="file-0123456789abcdef00000002", key_id=key.id, purpose="batch", filename="old.jsonl",
                bytes=len(content), created_at=1_700_000_000.0, content=content,
            )
        )  # fmt: skip
    server_db.migrate(engine)
    gw = gateway([replica("r1", backends().url)])  # its start moves the bytes before serving
    client = gw.client(secret)
    assert client.files.content("file-0123456789abcdef00000002").content == content
    assert (tmp_path / "files" / "file-0123456789abcdef00000002").read_bytes() == content
    with engine.connect() as conn:
        row = conn.execute(select(files).where(files.c.id == "file-0123456789abcdef00000002")).one()
    assert row.content is None


# --- per-tenant limits ------------------------------------------------------------------------------


def test_the_file_count_limit_is_per_tenant_and_stores_nothing_when_hit(engine: Engine, root: Path) -> None:
    service = service_with(engine, root, Clock(), max_files=2)
    for _ in range(2):
        service.upload(ALICE, "batch", "in.jsonl", jsonl(1))
    with pytest.raises(ApiError) as error:
        service.upload(ALICE, "batch", "in.jsonl", jsonl(1))
    assert error.value.http_status == 400 and error.value.code == "file_count_limit"
    assert "2 files" in error.value.message
    assert len(service.files.page(ALICE.id)) == 2 and len(blobs(root)) == 2
    service.upload(BOB, "batch", "in.jsonl", jsonl(1))  # another tenant has its own allowance


def test_the_byte_limit_counts_what_is_stored(engine: Engine, root: Path) -> None:
    one = jsonl(1)
    service = service_with(engine, root, Clock(), max_bytes=len(one) * 2 + 10)
    first = service.upload(ALICE, "batch", "in.jsonl", one)
    service.upload(ALICE, "batch", "in.jsonl", one)
    with pytest.raises(ApiError) as error:
        service.upload(ALICE, "batch", "in.jsonl", one)
    assert error.value.http_status == 400 and error.value.code == "file_storage_limit"
    assert len(blobs(root)) == 2
    service.delete_file(ALICE, first.id)  # deleting frees the room
    service.upload(ALICE, "batch", "in.jsonl", one)


def test_the_upload_rate_limit_says_when_to_come_back(engine: Engine, root: Path) -> None:
    clock = Clock()
    service = service_with(engine, root, clock, uploads_per_minute=2)
    service.upload(ALICE, "batch", "in.jsonl", jsonl(1))
    service.upload(ALICE, "batch", "in.jsonl", jsonl(1))
    with pytest.raises(ApiError) as error:
        service.upload(ALICE, "batch", "in.jsonl", jsonl(1))
    assert error.value.http_status == 429 and error.value.retry_after is not None
    service.upload(BOB, "batch", "in.jsonl", jsonl(1))
    clock.t += 30
    service.upload(ALICE, "batch", "in.jsonl", jsonl(1))


def test_limits_hold_under_concurrent_uploads(engine: Engine, root: Path) -> None:
    service = service_with(engine, root, Clock(), max_files=3)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def upload() -> None:
        start.wait()
        try:
            service.upload(ALICE, "batch", "in.jsonl", jsonl(50))
            outcomes.append("stored")
        except ApiError as error:
            outcomes.append(error.code or "")

    threads = [threading.Thread(target=upload) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["file_count_limit"] * 5 + ["stored"] * 3
    assert len(service.files.page(ALICE.id)) == 3 and len(blobs(root)) == 3


def test_batch_outputs_are_written_even_at_the_tenant_limit(engine: Engine, root: Path) -> None:
    clock = Clock()
    service = service_with(engine, root, clock, max_files=1)
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(2))
    batch = service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    run_until_idle(BatchRunner(service, FakeDispatcher(clock), concurrency=4))
    done = service.get(ALICE, batch.id)
    assert done.status == "completed" and done.output_file_id is not None
    assert len(service.file_bytes(ALICE, done.output_file_id).splitlines()) == 2


# --- listing ----------------------------------------------------------------------------------------


def test_listing_pages_by_limit_after_and_order(engine: Engine, root: Path) -> None:
    clock = Clock()
    service = service_with(engine, root, clock, uploads_per_minute=10_000)
    ids = []
    for _ in range(130):
        clock.t += 1
        ids.append(service.upload(ALICE, "batch", "in.jsonl", jsonl(1)).id)
    newest_first = list(reversed(ids))
    page, more = service.list_files(ALICE, limit=50)
    assert [f.id for f in page] == newest_first[:50] and more
    page, more = service.list_files(ALICE, limit=100, after=page[-1].id)
    assert [f.id for f in page] == newest_first[50:130] and not more
    page, more = service.list_files(ALICE, limit=3, order="asc")
    assert [f.id for f in page] == ids[:3] and more
    everything, more = service.list_files(ALICE)  # OpenAI's default limit is 10,000
    assert len(everything) == 130 and not more
    with pytest.raises(InputError):
        service.list_files(ALICE, after="file-0000nothere")


# --- line numbers and starved lines ---------------------------------------------------------------------


def test_lines_carry_the_files_own_line_numbers(engine: Engine, root: Path) -> None:
    content = b"\n" + jsonl(1) + b"\n\n" + jsonl(1, model="big", start=5)
    lines, problems = parse_batch_file(content, CHAT)
    assert problems == [] and [line.line for line in lines] == [2, 5]
    limited = ApiKey(id="carol", name="carol", allowed_models=("tiny",))
    service = service_with(engine, root, Clock())
    upload = service.upload(limited, "batch", "in.jsonl", content)
    batch = service.create(limited, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    assert batch.errors is not None and [e["line"] for e in batch.errors] == [5]


class QuotaDispatcher(FakeDispatcher):
    """The gateway's answer for a key whose token quota is spent."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.quota_left = 2  # lines that still fit

    async def dispatch(self, key_id: str, endpoint: str, line: BatchLine) -> DispatchResult:
        if self.quota_left <= 0:
            body = {"error": {"message": "token quota of 300 per day has 4 tokens left, too few for this prompt",
                              "type": "insufficient_quota", "code": "insufficient_quota", "param": None}}  # fmt: skip
            return DispatchResult(429, json.dumps(body).encode(), quota_spent=True, retry_later=True)
        self.quota_left -= 1
        return await super().dispatch(key_id, endpoint, line)


def test_a_quota_starved_line_lands_in_the_error_file_with_the_reason(engine: Engine, root: Path) -> None:
    clock = Clock()
    service = service_with(engine, root, clock)
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(5))
    batch = service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    run_until_idle(BatchRunner(service, QuotaDispatcher(clock), concurrency=4), ticks=20)
    done = service.get(ALICE, batch.id)
    assert done.status == "completed" and (done.completed, done.failed) == (2, 3)
    assert done.error_file_id is not None
    errors = [json.loads(x) for x in service.file_bytes(ALICE, done.error_file_id).splitlines()]
    assert {e["response"]["status_code"] for e in errors} == {429}
    assert all(e["error"]["code"] == "insufficient_quota" and "4 tokens left" in e["error"]["message"]
               for e in errors)  # fmt: skip


def test_the_runner_reads_and_parses_input_off_the_event_loop(engine: Engine, root: Path) -> None:
    clock = Clock()
    service = service_with(engine, root, clock)
    loop_threads: list[bool] = []
    parse = service.lines_of

    def on_loop() -> None:
        try:
            asyncio.get_running_loop()
            loop_threads.append(True)
        except RuntimeError:
            loop_threads.append(False)

    def watched(batch: Batch) -> Iterator[BatchLine]:
        on_loop()
        for line in parse(batch):  # each line is read from disk and parsed as it is taken
            on_loop()
            yield line

    service.lines_of = watched  # type: ignore[method-assign]  # watch the runner's reads
    upload = service.upload(ALICE, "batch", "in.jsonl", jsonl(3))
    service.create(ALICE, input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    run_until_idle(BatchRunner(service, FakeDispatcher(clock), concurrency=4), ticks=3)
    assert loop_threads and not any(loop_threads)


# --- over HTTP, with the official client ---------------------------------------------------------


@pytest.fixture
def limited(gateway: Callable[..., Gateway], backends: Callable[..., Backend]) -> Iterator[Gateway]:
    backend = backends()
    yield gateway(
        [replica("r1", backend.url, parallel=4)],
        batch_poll_s=0.02,
        files_max_per_key=3,
        files_max_bytes_per_key=10_000,
        files_uploads_per_minute=5,
    )


def test_limits_over_http_are_openai_errors_with_a_clear_message(limited: Gateway, tmp_path: Path) -> None:
    client = limited.client(limited.key("alice"))
    path = tmp_path / "in.jsonl"
    path.write_bytes(jsonl(1))
    for _ in range(3):
        client.files.create(file=path.open("rb"), purpose="batch")
    with pytest.raises(openai.BadRequestError) as error:
        client.files.create(file=path.open("rb"), purpose="batch")
    assert "3 files" in error.value.message and error.value.code == "file_count_limit"
    big = tmp_path / "big.jsonl"
    big.write_bytes(jsonl(200))
    bob = limited.client(limited.key("bob"))
    with pytest.raises(openai.BadRequestError) as error:
        bob.files.create(file=big.open("rb"), purpose="batch")
    assert error.value.code == "file_storage_limit"
    assert bob.files.list().data == []
    with pytest.raises(openai.BadRequestError):  # alice's fifth upload this minute, still refused
        client.files.create(file=path.open("rb"), purpose="batch")
    with pytest.raises(openai.RateLimitError) as limited_error:
        client.files.create(file=path.open("rb"), purpose="batch")
    assert limited_error.value.response.headers.get("retry-after")


def test_listing_over_http_pages_like_openai(limited: Gateway, tmp_path: Path) -> None:
    client = limited.client(limited.key("alice"))
    path = tmp_path / "in.jsonl"
    path.write_bytes(jsonl(1))
    ids = [client.files.create(file=path.open("rb"), purpose="batch").id for _ in range(3)]
    first = client.files.list(limit=2)
    assert len(first.data) == 2 and first.has_more
    every = [f.id for f in client.files.list(limit=1)]  # the client follows `after` to the end
    assert sorted(every) == sorted(ids)
    asc = client.files.list(order="asc", limit=10)
    assert [f.id for f in asc.data] == [f.id for f in reversed(client.files.list(limit=10).data)]
    bad = httpx.get(
        limited.url + "/v1/files",
        params={"limit": 0},
        headers={"Authorization": f"Bearer {client.api_key}"},
    )
    assert bad.status_code == 400 and set(bad.json()["error"]) >= {"message", "type", "code", "param"}


def test_line_numbers_count_only_newlines_as_editors_do() -> None:
    # U+2028 inside a JSON string is valid JSON; `str.splitlines` broke the line there.
    first = json.dumps(
        {
            "custom_id": "a",
            "url": CHAT,
            "body": {"model": "tiny", "messages": [{"role": "user", "content": "x\u2028y"}]},
        },
        ensure_ascii=False,
    )
    content = (first + "\r\n" + "{broken\n").encode()
    lines, problems = parse_batch_file(content, CHAT)
    assert [line.line for line in lines] == [1]
    assert [(p.line, p.code) for p in problems] == [(2, "invalid_json_line")]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        # cut off before the closing boundary: the first bytes of a file are not the file
        (b'--B\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
         b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n{"custom_id": "a"}\n', 400),
        (b"--B\r\nnot a header line\r\n\r\n", 400),
        # two files in one form
        (b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\nx\r\n'
         b'--B\r\nContent-Disposition: form-data; name="file"; filename="b.jsonl"\r\n\r\ny\r\n--B--\r\n', 400),
        # over the per-file limit (1,000 bytes in `limited`): refused while it streams
        (b'--B\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
         b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n' + b"x" * 5000 + b"\r\n--B--\r\n", 413),
    ],
)  # fmt: skip
def test_bad_multipart_bodies_are_refused_and_store_nothing(
    gateway: Callable[..., Gateway],
    backends: Callable[..., Backend],
    tmp_path: Path,
    body: bytes,
    status: int,
) -> None:
    gw = gateway([replica("r1", backends().url)], files_max_file_bytes=1000)
    key = gw.key("alice")
    response = httpx.post(
        gw.url + "/v1/files",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "multipart/form-data; boundary=B"},
    )
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) >= {"message", "type", "code", "param"}
    assert gw.client(key).files.list().data == []
    assert blobs(tmp_path / "files") == []
