"""/v1/rerank and Anthropic's /v1/messages through the gateway: the official clients, fake
backends in llama-server's shapes, real SQLite; keys, permissions, quotas and metering hold."""

from __future__ import annotations

from dataclasses import replace

import anthropic
import httpx
import openai
import pytest

from rigshift.run.capabilities import CHAT_CAPABILITIES
from rigshift.server.stores.usage import UsageStore

from .conftest import replica

DOCS = ["a", "a longer document", "mid length"]


def _farm(backends, gateway, **settings):
    backend = backends()
    gw = gateway(
        [
            replace(replica("c1", backend.url, model="chat"), capabilities=CHAT_CAPABILITIES),
            replace(replica("r1", backend.url, model="rank"), capabilities=("rerank",)),
        ],
        **settings,
    )
    return backend, gw


def _claude(gw, key: str, **kwargs) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, **kwargs)


def test_rerank_through_the_openai_client_is_forwarded_and_metered(backends, gateway):
    backend, gw = _farm(backends, gateway)
    client = gw.client(gw.key())
    ranked = client.post(
        "/rerank", cast_to=object, body={"model": "rank", "query": "q", "documents": DOCS, "top_n": 2}
    )
    assert [r["index"] for r in ranked["results"]] == [1, 2]
    assert backend.state.bodies[-1] == {"model": "rank", "query": "q", "documents": DOCS, "top_n": 2}
    (record,) = UsageStore(gw.engine).records()
    assert (record.endpoint, record.model, record.completion_tokens) == ("rerank", "rank", 0)
    assert record.prompt_tokens == ranked["usage"]["prompt_tokens"] > 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "rank", "documents": DOCS}, "query"),
        ({"model": "rank", "query": "q", "documents": []}, "documents"),
        ({"model": "rank", "query": "q", "documents": [1]}, "documents"),
        ({"model": "rank", "query": "q", "documents": DOCS, "top_n": 0}, "top_n"),
        ({"model": "rank", "query": "q", "documents": DOCS, "texts": DOCS}, "texts"),
        ({"model": "chat", "query": "q", "documents": DOCS}, "query"),  # a chat model cannot rerank
    ],
)
def test_bad_rerank_requests_are_400s_naming_the_field(backends, gateway, body, param):
    backend, gw = _farm(backends, gateway)
    with pytest.raises(openai.BadRequestError) as caught:
        gw.client(gw.key()).post("/rerank", cast_to=object, body=body)
    assert caught.value.param == param
    assert backend.state.bodies == [] and UsageStore(gw.engine).records() == []


def test_messages_with_the_anthropic_client_both_stream_modes(backends, gateway):
    _backend, gw = _farm(backends, gateway)
    key = gw.key()
    claude = _claude(gw, key)  # the key in x-api-key
    reply = claude.messages.create(model="chat", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].text == "hello from the fake backend"
    assert reply.usage.output_tokens == 5

    bearer = anthropic.Anthropic(base_url=gw.url, auth_token=key, max_retries=0)  # Authorization: Bearer
    with bearer.messages.stream(
        model="chat", max_tokens=64, system="be brief", messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "hello from the fake backend"
    records = sorted(UsageStore(gw.engine).records(), key=lambda r: r.created_at)
    assert [(r.endpoint, r.completion_tokens, r.status) for r in records] == [("messages", 5, 200)] * 2
    assert records[1].prompt_tokens == final.usage.input_tokens > 0
    assert records[1].tokens_source == "backend"


def test_messages_errors_are_in_anthropics_shape(backends, gateway):
    backend, gw = _farm(backends, gateway)
    with pytest.raises(anthropic.AuthenticationError) as denied:
        _claude(gw, "not-a-key").messages.create(
            model="chat", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    assert denied.value.body["error"]["type"] == "authentication_error"
    narrow = _claude(gw, gw.key(allowed_models=["rank"]))
    with pytest.raises(anthropic.PermissionDeniedError):
        narrow.messages.create(model="chat", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.BadRequestError) as capability:
        _claude(gw, gw.key()).messages.create(
            model="rank", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    assert "does not support chat" in capability.value.message
    # No max_tokens (the SDK always sends it) and a field llama-server would act on unchecked.
    key = gw.key()
    for body, needle in (
        ({"model": "chat", "messages": []}, "'max_tokens' is required"),
        ({"model": "chat", "max_tokens": 8, "messages": [], "n_predict": 9}, "n_predict"),
    ):
        answer = httpx.post(gw.url + "/v1/messages", json=body, headers={"x-api-key": key})
        assert answer.status_code == 400
        assert answer.json()["type"] == "error" and needle in answer.json()["error"]["message"]
    assert backend.state.bodies == [] and UsageStore(gw.engine).records() == []


def test_messages_hold_the_token_quota(backends, gateway):
    backend, gw = _farm(backends, gateway)
    claude = _claude(gw, gw.key(token_quota=40, quota_period="day"))
    claude.messages.create(model="chat", max_tokens=1000, messages=[{"role": "user", "content": "hi"}])
    # The reservation capped the completion at what the quota had left (never the asked 1,000).
    assert 0 < backend.state.bodies[-1]["max_tokens"] < 40
    with pytest.raises(anthropic.RateLimitError) as caught:
        for _ in range(10):
            claude.messages.create(
                model="chat", max_tokens=1000, messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert sum(r.total_tokens for r in UsageStore(gw.engine).records()) <= 40


def test_a_messages_stream_cut_by_the_backend_ends_in_anthropics_error_event(backends, gateway):
    backend = backends(crash_after_words=2)
    gw = gateway([replace(replica("c1", backend.url, model="chat"), capabilities=CHAT_CAPABILITIES)])
    claude = _claude(gw, gw.key())
    stream = claude.messages.stream(model="chat", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.APIStatusError, match="failed mid-stream"), stream as events:
        "".join(events.text_stream)
    (record,) = UsageStore(gw.engine).records()
    assert (record.endpoint, record.status, record.completion_tokens) == ("messages", 502, 2)
