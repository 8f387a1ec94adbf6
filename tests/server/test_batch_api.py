"""The Batch API through the real server with the official `openai` client's files and batches APIs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import openai
import pytest

from rigshift.server.stores.keys import key_id_of
from rigshift.server.stores.usage import UsageStore
from waiting import wait_until

from .conftest import Backend, Gateway, replica


def batch_file(tmp_path: Path, n: int, *, model: str = "tiny") -> Path:
    path = tmp_path / "requests.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "custom_id": f"task-{i}",
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": {"model": model, "messages": [{"role": "user", "content": f"question {i}"}]},
                }
            )
            + "\n"
            for i in range(n)
        )
    )
    return path


def wait_for(
    client: openai.OpenAI, batch_id: str, statuses: set[str], timeout_s: float = 30.0
) -> openai.types.Batch:
    deadline = time.monotonic() + timeout_s
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in statuses:
            return batch
        assert time.monotonic() < deadline, f"batch stayed {batch.status}"
        time.sleep(0.05)


@pytest.fixture
def served(gateway: Callable[..., Gateway], backends: Callable[..., Backend]) -> tuple[Gateway, Backend]:
    backend = backends()
    return gateway([replica("r1", backend.url, parallel=4)], batch_poll_s=0.02), backend


def test_openai_client_runs_a_batch_end_to_end(served: tuple[Gateway, Backend], tmp_path: Path) -> None:
    gw, backend = served
    client = gw.client(gw.key("alice"))
    with batch_file(tmp_path, 20).open("rb") as f:
        uploaded = client.files.create(file=f, purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.bytes > 0
    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"job": "nightly"},
    )
    assert batch.status == "in_progress" and batch.metadata == {"job": "nightly"}
    done = wait_for(client, batch.id, {"completed", "failed"})
    assert done.status == "completed"
    assert done.request_counts is not None and done.request_counts.completed == 20
    assert done.output_file_id is not None and done.error_file_id is None
    lines = [json.loads(x) for x in client.files.content(done.output_file_id).text.splitlines()]
    assert [x["custom_id"] for x in lines] == [f"task-{i}" for i in range(20)]
    assert all(x["response"]["status_code"] == 200 for x in lines)
    assert backend.state.requests == 20  # each line reached a backend once
    batch_rows = [r for r in UsageStore(gw.engine).records() if r.batch_id == batch.id]
    assert len(batch_rows) == 20 and all(r.prompt_tokens > 0 for r in batch_rows)
    listed = client.batches.list(limit=10)
    assert [b.id for b in listed.data] == [batch.id]
    # The energy policy's demand is interactive work: batch lines are not counted in it.
    served = gw.server.server.config.app.state.ctx.gateway.served
    assert served.tokens_per_s("tiny", time.time()) == 0.0
    client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}])
    assert served.tokens_per_s("tiny", time.time()) > 0.0


def test_a_bad_file_gives_a_failed_batch_naming_the_line(
    served: tuple[Gateway, Backend], tmp_path: Path
) -> None:
    gw, backend = served
    client = gw.client(gw.key("alice"))
    path = batch_file(tmp_path, 2)
    path.write_text(
        path.read_text()
        + '{"custom_id": "x", "url": "/v1/chat/completions", "body": {"model": "tiny", "temperature": NaN}}\n'
    )
    uploaded = client.files.create(file=path.open("rb"), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert batch.status == "failed"
    assert batch.errors is not None and batch.errors.data is not None
    assert batch.errors.data[0].line == 3 and batch.errors.data[0].code == "invalid_json_line"
    # A good batch created after it runs to the end: by then the runner has passed over the
    # failed one too, and no line of it reached a backend.
    good = client.batches.create(
        input_file_id=client.files.create(file=batch_file(tmp_path, 2).open("rb"), purpose="batch").id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    assert wait_for(client, good.id, {"completed", "failed"}).status == "completed"
    assert backend.state.requests == 2  # the good batch's two lines, nothing of the failed one


def test_tenants_cannot_reach_each_others_files_or_batches(
    served: tuple[Gateway, Backend], tmp_path: Path
) -> None:
    gw, _backend = served
    alice, bob = gw.client(gw.key("alice")), gw.client(gw.key("bob"))
    uploaded = alice.files.create(file=batch_file(tmp_path, 1).open("rb"), purpose="batch")
    batch = alice.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    for call in (
        lambda: bob.files.retrieve(uploaded.id),
        lambda: bob.files.content(uploaded.id),
        lambda: bob.files.delete(uploaded.id),
        lambda: bob.batches.retrieve(batch.id),
        lambda: bob.batches.cancel(batch.id),
        lambda: bob.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        ),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    assert bob.files.list().data == [] and bob.batches.list().data == []


@pytest.mark.parametrize(
    ("request_kwargs", "status"),
    [
        (
            {"json": {"input_file_id": "file-00", "endpoint": "/v1/moderations", "completion_window": "24h"}},
            400,
        ),
        (
            {
                "json": {
                    "input_file_id": "file-00",
                    "endpoint": "/v1/chat/completions",
                    "completion_window": "1h",
                }
            },
            400,
        ),
        ({"json": {"input_file_id": 5, "endpoint": "/v1/chat/completions", "completion_window": "24h"}}, 400),
        (
            {
                "content": b'{"input_file_id": "file-00", "endpoint": "/v1/chat/completions", "completion_window": "24h", "x": NaN}'
            },
            400,
        ),
        (
            {
                "json": {
                    "input_file_id": "file-00",
                    "endpoint": "/v1/chat/completions",
                    "completion_window": "24h",
                }
            },
            404,
        ),
    ],
)
def test_bad_batch_requests_are_4xx_in_openai_shape_and_store_nothing(
    served: tuple[Gateway, Backend], request_kwargs: dict[str, object], status: int
) -> None:
    gw, _backend = served
    key = gw.key("alice")
    response = httpx.post(
        gw.url + "/v1/batches",
        headers={"Authorization": f"Bearer {key}"},
        **request_kwargs,  # type: ignore[arg-type]
    )
    assert response.status_code == status
    assert set(response.json()["error"]) >= {"message", "type", "code", "param"}
    assert gw.client(key).batches.list().data == []


@pytest.mark.parametrize(
    ("files", "data", "field"),
    [
        ({"file": ("a.jsonl", b"", "application/jsonl")}, {"purpose": "batch"}, "file"),
        ({"file": ("a.jsonl", b"{}\n", "application/jsonl")}, {"purpose": "fine-tune"}, "purpose"),
        (None, {"purpose": "batch"}, "file"),
    ],
)
def test_bad_uploads_are_refused_and_store_nothing(
    served: tuple[Gateway, Backend], files: dict | None, data: dict, field: str
) -> None:
    gw, _backend = served
    key = gw.key("alice")
    response = httpx.post(
        gw.url + "/v1/files", headers={"Authorization": f"Bearer {key}"}, files=files, data=data
    )
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]["message"] or response.json()["error"]["param"] == field
    assert gw.client(key).files.list().data == []


def test_cancel_through_the_client(served: tuple[Gateway, Backend], tmp_path: Path) -> None:
    gw, backend = served
    release = backend.state.hold = threading.Event()  # lines stay at the backend until it is set
    client = gw.client(gw.key("alice"))
    uploaded = client.files.create(file=batch_file(tmp_path, 40).open("rb"), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    try:
        wait_until(lambda: backend.state.held > 0, "a line in flight at the backend")
        # The cancel lands mid-batch: lines in flight finish and are delivered, no new one starts.
        assert client.batches.cancel(batch.id).status in ("cancelling", "cancelled")
    finally:
        release.set()
    done = wait_for(client, batch.id, {"cancelled"})
    assert done.request_counts is not None and 0 < done.request_counts.completed < 40
    served_lines = client.files.content(done.output_file_id).text.splitlines() if done.output_file_id else []
    assert len(served_lines) == done.request_counts.completed


def test_batch_respects_the_token_quota_and_reports_starved_lines(
    gateway: Callable[..., Gateway], backends: Callable[..., Backend], tmp_path: Path
) -> None:
    backend = backends()
    gw = gateway([replica("r1", backend.url, parallel=4)], batch_poll_s=0.02)
    secret = gw.key("alice", token_quota=200, quota_period="day")
    client = gw.client(secret)
    uploaded = client.files.create(file=batch_file(tmp_path, 30).open("rb"), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    # Lines the quota cannot pay for are reported, not retried silently until the batch expires.
    done = wait_for(client, batch.id, {"completed", "failed", "expired"})
    assert done.status == "completed"
    assert done.request_counts is not None and 0 < done.request_counts.completed < 30
    assert done.request_counts.failed == 30 - done.request_counts.completed
    assert done.error_file_id is not None
    errors = [json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()]
    assert len(errors) == done.request_counts.failed
    assert all(e["response"]["status_code"] == 429 for e in errors)
    assert all(
        e["error"]["code"] == "insufficient_quota" and "quota" in e["error"]["message"] for e in errors
    )
    key_id = key_id_of(secret)
    assert key_id is not None
    assert 0 < UsageStore(gw.engine).tokens_since(key_id, 0) <= 200
