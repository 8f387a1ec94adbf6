"""`/v1/responses` end to end over loopback: real uvicorn, real SQLite (or PostgreSQL), the fake
backend, driven by the official `openai` client where it can be."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from rigshift.server.stores.usage import UsageStore
from waiting import wait_until

from .conftest import replica

WORDS = "hello from the fake backend"


def _post(gw, key: str, body: dict) -> httpx.Response:
    return httpx.post(gw.url + "/v1/responses", json=body, headers={"authorization": f"Bearer {key}"})


def _streamed_events(gw, key: str) -> list[dict]:
    """A streamed response's events, read raw (the openai client raises on a failed stream)."""
    body = {"model": "tiny", "input": "hi", "stream": True}
    headers = {"authorization": f"Bearer {key}"}
    with httpx.stream("POST", gw.url + "/v1/responses", json=body, headers=headers) as stream:
        return [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]


def _get(gw, key: str, path: str) -> httpx.Response:
    return httpx.get(gw.url + path, headers={"authorization": f"Bearer {key}"})


def test_non_streamed_response_is_translated_billed_and_stored(backends, gateway):
    backend = backends()
    gw = gateway([replica("r1", backend.url)])
    client = gw.client(gw.key())

    response = client.responses.create(
        model="tiny", input="hi", instructions="be brief", max_output_tokens=50, temperature=0.5
    )

    assert response.status == "completed" and response.output_text == WORDS
    assert response.id.startswith("resp_") and response.model == "tiny"
    assert response.instructions == "be brief" and response.max_output_tokens == 50
    sent = backend.state.bodies[-1]
    assert sent["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert sent["max_tokens"] == 50 and sent["temperature"] == 0.5 and "stream" not in sent
    assert response.usage is not None and response.usage.output_tokens == 5
    assert response.usage.total_tokens == response.usage.input_tokens + 5
    [record] = UsageStore(gw.engine).records()
    assert record.endpoint == "responses"
    assert (record.prompt_tokens, record.completion_tokens) == (response.usage.input_tokens, 5)
    assert client.responses.retrieve(response.id).output_text == WORDS


def test_streamed_response_sends_openais_typed_events_in_order(backends, gateway):
    backend = backends()
    gw = gateway([replica("r1", backend.url)])
    client = gw.client(gw.key())

    events = list(client.responses.create(model="tiny", input="hi", stream=True))

    kinds = [e.type for e in events]
    deltas = kinds.count("response.output_text.delta")
    assert deltas == 5
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == WORDS
    item_ids = {e.item_id for e in events if hasattr(e, "item_id")}
    assert len(item_ids) == 1
    completed = events[-1].response
    assert completed.status == "completed" and completed.output_text == WORDS
    assert completed.usage is not None and completed.usage.output_tokens == 5
    assert events[0].response.status == "in_progress" and events[0].response.id == completed.id
    # The backend was asked for usage (the events carry it), the record bills it.
    assert backend.state.bodies[-1]["stream_options"] == {"include_usage": True}
    [record] = UsageStore(gw.engine).records()
    assert record.endpoint == "responses" and record.completion_tokens == 5 and record.status == 200
    # Stored before response.completed was sent: the client can continue from it at once.
    assert client.responses.retrieve(completed.id).output_text == WORDS


@pytest.mark.parametrize("stream", [False, True])
def test_previous_response_id_continues_the_stored_conversation(backends, gateway, stream):
    backend = backends()
    gw = gateway([replica("r1", backend.url)])
    client = gw.client(gw.key())

    def create(**kwargs):
        if not stream:
            return client.responses.create(model="tiny", **kwargs)
        return list(client.responses.create(model="tiny", stream=True, **kwargs))[-1].response

    first = create(input="my name is Ada", instructions="be brief")
    second = create(input=[{"role": "user", "content": "what is my name?"}], previous_response_id=first.id)

    # Instructions are not carried over (as OpenAI does); the earlier turn is.
    assert backend.state.bodies[-1]["messages"] == [
        {"role": "user", "content": "my name is Ada"},
        {"role": "assistant", "content": WORDS},
        {"role": "user", "content": "what is my name?"},
    ]
    assert second.previous_response_id == first.id
    items = client.responses.input_items.list(second.id)
    assert [(i.role, i.content[0].text) for i in items.data] == [
        ("user", "what is my name?"),
        ("assistant", WORDS),
        ("user", "my name is Ada"),
    ]
    oldest = client.responses.input_items.list(second.id, order="asc", limit=1)
    assert [i.content[0].text for i in oldest.data] == ["my name is Ada"] and oldest.has_more


def test_unstored_and_deleted_responses_are_not_found(backends, gateway):
    backend = backends()
    gw = gateway([replica("r1", backend.url)])
    client = gw.client(gw.key())

    unstored = client.responses.create(model="tiny", input="hi", store=False)
    assert unstored.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)
    with pytest.raises(openai.NotFoundError) as refused:
        client.responses.create(model="tiny", input="again", previous_response_id=unstored.id)
    assert refused.value.body["code"] == "previous_response_not_found"  # type: ignore[index]

    kept = client.responses.create(model="tiny", input="hi")
    client.responses.delete(kept.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(kept.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(kept.id)


def test_a_tenant_never_sees_another_tenants_responses(backends, gateway):
    backend = backends()
    gw = gateway([replica("r1", backend.url)])
    alice, mallory = gw.key("alice"), gw.key("mallory")
    own = gw.client(alice).responses.create(model="tiny", input="a secret")
    requests_before = backend.state.requests

    for path in (f"/v1/responses/{own.id}", f"/v1/responses/{own.id}/input_items"):
        assert _get(gw, mallory, path).status_code == 404
    deleted = httpx.delete(gw.url + f"/v1/responses/{own.id}", headers={"authorization": f"Bearer {mallory}"})
    assert deleted.status_code == 404
    continued = _post(gw, mallory, {"model": "tiny", "input": "and?", "previous_response_id": own.id})
    assert continued.status_code == 404 and continued.json()["error"]["param"] == "previous_response_id"
    assert backend.state.requests == requests_before  # nothing of alice's reached the backend for mallory
    assert gw.client(alice).responses.retrieve(own.id).output_text == WORDS  # still there for its owner
    assert _get(gw, "rs-nobody-nothing", f"/v1/responses/{own.id}").status_code == 401


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"input": "hi", "n_predict": 5}, "n_predict", "Unrecognized request argument"),
        ({"input": "hi", "max_output_tokenz": 5}, "max_output_tokenz", "max_output_tokens"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "messages", "use 'input'"),
        ({"input": "hi", "max_tokens": 5}, "max_tokens", "max_output_tokens"),
        ({"input": "hi", "tools": [{"type": "function", "name": "f"}]}, "tools", "tools"),
        ({"input": "hi", "reasoning": {"effort": "high"}}, "reasoning", "not supported"),
        ({"input": "hi", "text": {"format": {"type": "json_object"}}}, "text", "text output"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
            "input[0].content[0].type",
            "vision",
        ),
        ({"input": [{"type": "function_call_output", "output": "1"}]}, "input[0].type", "not supported"),
        ({"input": [{"role": "robot", "content": "hi"}]}, "input[0].role", "one of"),
        ({"input": []}, "input", "non-empty"),
        ({}, "input", "required"),
        ({"input": "hi", "max_output_tokens": 0}, "max_output_tokens", "positive"),
        ({"input": "hi", "temperature": 3}, "temperature", "from 0 to 2"),
        ({"input": "hi", "store": "yes"}, "store", "boolean"),
        ({"input": "hi", "metadata": {"k": 1}}, "metadata", "string pairs"),
    ],
)
def test_fields_it_cannot_honour_are_refused_by_name_and_nothing_runs(backends, gateway, body, param, says):
    backend = backends()
    gw = gateway([replica("r1", backend.url)])
    refused = _post(gw, gw.key(), {"model": "tiny", **body})

    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["param"] == param and says in error["message"]
    assert error["type"] == "invalid_request_error"
    assert backend.state.requests == 0 and UsageStore(gw.engine).records() == []


def test_keys_permissions_rate_limits_and_quotas_hold_as_for_chat(backends, gateway):
    backend = backends()
    gw = gateway([replica("r1", backend.url), replica("r2", backend.url, model="other")])
    body = {"model": "tiny", "input": "hi"}

    assert _post(gw, "rs-unknown-key", body).status_code == 401
    limited = gw.key("limited", allowed_models=["other"])
    forbidden = _post(gw, limited, body)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "model_not_allowed"
    slow = gw.key("slow", rate_limit_rpm=1)
    assert _post(gw, slow, body).status_code == 200
    assert _post(gw, slow, body).status_code == 429
    # A quota: the reservation bounds what the backend may generate (forwarded as max_tokens).
    small = gw.key("small", token_quota=40)
    reply = _post(gw, small, {**body, "max_output_tokens": 1000})
    assert reply.status_code == 200
    assert backend.state.bodies[-1]["max_tokens"] < 40
    used = reply.json()["usage"]["total_tokens"]
    records = [r for r in UsageStore(gw.engine).records() if r.endpoint == "responses"]
    assert sum(r.total_tokens for r in records if r.status == 200) >= used
    while (last := _post(gw, small, body)).status_code == 200:
        pass
    assert last.status_code == 429 and last.json()["error"]["code"] == "insufficient_quota"
    metrics = httpx.get(gw.url + "/metrics").text
    assert 'rigshift_requests_total{endpoint="responses",model="tiny",status="200"}' in metrics
    assert 'rigshift_requests_total{endpoint="responses",model="tiny",status="429"}' in metrics
    assert 'endpoint="chat"' not in metrics  # every request above is counted as a Responses request


def test_a_refusal_of_the_chat_request_names_this_routes_fields(backends, gateway):
    backend = backends()
    gw = gateway([replica("r1", backend.url, context=256)])
    refused = _post(gw, gw.key(), {"model": "tiny", "input": "hi", "max_output_tokens": 100_000})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["param"] == "max_output_tokens" and "max_output_tokens" in error["message"]
    assert "max_tokens" not in error["message"].replace("max_output_tokens", "")
    missing = _post(gw, gw.key(), {"model": "nope", "input": "hi"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_a_response_cut_by_max_output_tokens_is_incomplete(backends, gateway):
    backend = backends()
    gw = gateway([replica("r1", backend.url)])
    client = gw.client(gw.key())

    response = client.responses.create(model="tiny", input="hi", max_output_tokens=2)
    assert response.status == "incomplete" and response.output_text == "hello from"
    assert (
        response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    )

    events = list(client.responses.create(model="tiny", input="hi", max_output_tokens=2, stream=True))
    assert events[-1].type == "response.incomplete" and events[-1].response.output_text == "hello from"
    assert client.responses.retrieve(events[-1].response.id).status == "incomplete"


def test_a_backend_dying_mid_stream_fails_the_response_bills_it_and_stores_nothing(backends, gateway):
    backend = backends(crash_after_words=2)
    gw = gateway([replica("r1", backend.url)])
    key = gw.key()

    events = _streamed_events(gw, key)

    kinds = [e["type"] for e in events]
    assert kinds[-2:] == ["error", "response.failed"] and "response.completed" not in kinds
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == "hello from"
    [record] = UsageStore(gw.engine).records()
    assert record.endpoint == "responses" and record.status == 502 and record.completion_tokens >= 2
    assert _get(gw, key, f"/v1/responses/{failed['id']}").status_code == 404


def test_a_client_hanging_up_mid_stream_is_billed_and_frees_its_slot(backends, gateway):
    backend = backends(words=tuple(f" w{i}" for i in range(200)), word_delay_s=0.02)
    gw = gateway([replica("r1", backend.url)])
    key = gw.key()
    body = {"model": "tiny", "input": "hi", "stream": True}
    with httpx.stream(
        "POST", gw.url + "/v1/responses", json=body, headers={"authorization": f"Bearer {key}"}
    ) as stream:
        assert next(stream.iter_bytes()).startswith(b"event: response.created")

    store = UsageStore(gw.engine)
    wait_until(lambda: store.count() == 1, "the aborted response's usage record")
    [record] = store.records()
    assert record.endpoint == "responses" and record.status == 499 and 0 < record.completion_tokens < 200
    router = gw.server.server.config.app.state.ctx.gateway.router
    wait_until(lambda: router.outstanding == {}, "the replica slot to be released")


def test_a_response_that_cannot_be_stored_is_not_handed_out(backends, gateway, monkeypatch):
    backend = backends()
    gw = gateway([replica("r1", backend.url)])
    key = gw.key()
    store = gw.server.server.config.app.state.ctx.responses.store

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store, "insert_many", broken)
    refused = _post(gw, key, {"model": "tiny", "input": "hi"})
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "response_store_unavailable"
    assert refused.headers["retry-after"] == "1"

    found = _streamed_events(gw, key)
    assert [e["type"] for e in found[-2:]] == ["error", "response.failed"]
    assert "could not be stored" in found[-1]["response"]["error"]["message"]
    # Both generations ran and are billed; unstored, neither can be continued.
    assert len(UsageStore(gw.engine).records()) == 2
    assert _post(gw, key, {"model": "tiny", "input": "hi", "store": False}).status_code == 200
