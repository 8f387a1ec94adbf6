"""Capabilities per deployment: listed in /v1/models, retrievable, and refused by name."""

from __future__ import annotations

from dataclasses import replace

import httpx
import openai
import pytest

from rigshift.run.capabilities import CHAT_CAPABILITIES, spec_capabilities
from rigshift.run.spec import ModelSource, ReplicaSpec
from rigshift.server.capabilities import needed_capabilities
from rigshift.server.stores.usage import UsageStore

from .conftest import replica

CHAT = [{"role": "user", "content": "hi"}]


def _farm(backends, gateway):
    backend = backends()
    gw = gateway(
        [
            replace(replica("c1", backend.url, model="chat"), capabilities=CHAT_CAPABILITIES),
            replace(replica("e1", backend.url, model="embed"), capabilities=("embeddings",)),
            replace(replica("r1", backend.url, model="rank"), capabilities=("rerank",)),
        ]
    )
    return backend, gw


def test_models_list_and_retrieve_carry_capabilities(backends, gateway):
    _backend, gw = _farm(backends, gateway)
    client = gw.client(gw.key())
    listed = {m.id: m.model_extra["capabilities"] for m in client.models.list()}
    assert listed == {
        "chat": ["chat", "completion", "tools", "structured_output"],
        "embed": ["embeddings"],
        "rank": ["rerank"],
    }
    model = client.models.retrieve("embed")
    assert (model.id, model.object, model.owned_by) == ("embed", "model", "rigshift")
    assert model.model_extra["capabilities"] == ["embeddings"]


def test_retrieve_a_model_whose_name_has_a_slash(backends, gateway):
    backend = backends()
    gw = gateway([replica("r1", backend.url, model="org/chat-8b")])
    assert gw.client(gw.key()).models.retrieve("org/chat-8b").id == "org/chat-8b"


def test_retrieve_unknown_or_not_permitted_is_the_same_404(backends, gateway):
    _backend, gw = _farm(backends, gateway)
    narrow = gw.client(gw.key(allowed_models=["chat"]))
    for name in ("embed", "no-such-model"):
        with pytest.raises(openai.NotFoundError) as caught:
            narrow.models.retrieve(name)
        assert caught.value.code == "model_not_found"
        assert name in caught.value.message
    assert narrow.models.retrieve("chat").id == "chat"
    assert httpx.get(gw.url + "/v1/models/chat").status_code == 401


@pytest.mark.parametrize(
    ("model", "call", "capability", "param"),
    [
        ("chat", lambda c: c.embeddings.create(model="chat", input="x"), "embeddings", "input"),
        ("embed", lambda c: c.chat.completions.create(model="embed", messages=CHAT), "chat", "messages"),
        ("embed", lambda c: c.completions.create(model="embed", prompt="x"), "completion", "prompt"),
        (
            "chat",
            lambda c: c.chat.completions.create(
                model="chat",
                messages=[
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}
                ],
            ),
            "vision",
            "messages",
        ),
    ],
)
def test_a_missing_capability_is_a_400_naming_it(backends, gateway, model, call, capability, param):
    backend, gw = _farm(backends, gateway)
    with pytest.raises(openai.BadRequestError) as caught:
        call(gw.client(gw.key()))
    assert caught.value.code == "model_capability_missing"
    assert f"does not support {capability}" in caught.value.message
    assert caught.value.param == param
    assert backend.state.bodies == []  # nothing forwarded
    assert UsageStore(gw.engine).records() == []  # nothing billed


def test_needed_capabilities_reads_tools_and_formats():
    body = {"tools": [{"type": "function"}], "response_format": {"type": "json_schema"}}
    assert needed_capabilities("chat", body) == [
        ("chat", "messages"),
        ("tools", "tools"),
        ("structured_output", "response_format"),
    ]
    assert needed_capabilities("chat", {"response_format": {"type": "text"}, "tools": []}) == [
        ("chat", "messages")
    ]
    assert needed_capabilities("rerank", {}) == [("rerank", "query")]


def test_a_spec_says_what_its_replica_can_do():
    base = ReplicaSpec("d-0", "d", "m", ModelSource("demo", "hi"), "local")
    assert spec_capabilities(base) == CHAT_CAPABILITIES
    assert spec_capabilities(replace(base, embeddings=True)) == ("embeddings",)
    assert spec_capabilities(replace(base, reranking=True)) == ("rerank",)
    # An old spec's fingerprint is kept (no restart on upgrade); a reranker's differs.
    assert replace(base, reranking=True).fingerprint() != base.fingerprint()
