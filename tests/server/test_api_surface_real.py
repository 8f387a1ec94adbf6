"""Every client-facing route against the real llama.cpp server: the conformance test.

The demo's three deployments (`server/demo_models.py`: the tiny model as a chat model, an
embedding model and a reranker), started the way `rigshift up --demo` starts them without Ray,
behind the real gateway and SQLite; driven through the official `openai` and `anthropic` clients
in both stream modes. What the tiny model answers is known exactly (`run/tiny_gguf.py`), so
structured outputs and tool calls are checked to the character, not just for shape.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from llama_server import needs_llama_server
from rigshift.run.tiny_gguf import expected_text
from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.demo_models import DEMO_EMBED_MODEL, DEMO_MODEL, DEMO_RERANK_MODEL, demo_specs
from rigshift.server.local import SupervisedDirectory, start_demo_replica
from rigshift.server.serving import BackgroundServer, serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.stores.keys import KeyStore
from rigshift.server.stores.usage import UsageStore

pytestmark = [
    pytest.mark.slow,
    needs_llama_server,
]

CHAT = [{"role": "user", "content": "hi"}]
REPLY = expected_text()
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class Demo:
    def __init__(self, workdir: Path):
        self.directory = SupervisedDirectory()
        self.supervisors = []
        for spec in demo_specs(parallel=2, context=1024):
            supervisor, endpoint = start_demo_replica(workdir, spec, threads=1)
            self.supervisors.append(supervisor)
            self.directory.add(endpoint, lambda s=supervisor: s.status().state)
        for supervisor in self.supervisors:
            assert supervisor.wait_ready(60), supervisor.status()
        self.engine = open_engine(str(workdir / "rigshift.db"))
        self.gateway: BackgroundServer = serve_in_thread(
            create_app(self.directory, ServerSettings(join_token="t"), engine=self.engine)
        )
        self.key = KeyStore(self.engine).create("tenant", now=time.time())[1]

    def openai(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.gateway.url + "/v1", api_key=self.key, max_retries=0, timeout=60)

    def anthropic(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.gateway.url, api_key=self.key, max_retries=0, timeout=60)

    def close(self) -> None:
        self.gateway.stop()
        for supervisor in self.supervisors:
            supervisor.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    d = Demo(tmp_path_factory.mktemp("demo"))
    yield d
    d.close()


def test_models_list_and_retrieve(demo: Demo):
    client = demo.openai()
    listed = {m.id: m.model_extra["capabilities"] for m in client.models.list()}
    assert listed == {
        DEMO_MODEL: ["chat", "completion", "tools", "structured_output"],
        DEMO_EMBED_MODEL: ["embeddings"],
        DEMO_RERANK_MODEL: ["rerank"],
    }
    assert client.models.retrieve(DEMO_EMBED_MODEL).id == DEMO_EMBED_MODEL
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


@pytest.mark.parametrize("stream", [False, True])
def test_chat_and_completions(demo: Demo, stream: bool):
    client = demo.openai()
    if stream:
        chunks = client.chat.completions.create(model=DEMO_MODEL, messages=CHAT, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        pieces = client.completions.create(model=DEMO_MODEL, prompt="hi", max_tokens=3, stream=True)
        completion = "".join(c.choices[0].text for c in pieces if c.choices)
    else:
        text = (
            client.chat.completions.create(model=DEMO_MODEL, messages=CHAT).choices[0].message.content or ""
        )
        completion = client.completions.create(model=DEMO_MODEL, prompt="hi", max_tokens=3).choices[0].text
    assert text.strip() == REPLY
    assert completion.strip() == expected_text(max_tokens=3)


def test_embeddings_differ_by_text_and_are_metered(demo: Demo):
    before = len(UsageStore(demo.engine).records())
    data = (
        demo.openai()
        .embeddings.create(model=DEMO_EMBED_MODEL, input=["mining rigs", "mining rigs", "zz"])
        .data
    )
    a, b, c = (d.embedding for d in data)
    assert a == b and a != c and len(a) == 64
    records = UsageStore(demo.engine).records()
    last = max(records, key=lambda r: r.created_at)
    assert len(records) == before + 1 and last.endpoint == "embeddings" and last.prompt_tokens > 0


def test_rerank_answers_every_document(demo: Demo):
    documents = ["a graphics card", "a banana", "a mining rig"]
    ranked = demo.openai().post(
        "/rerank", cast_to=object, body={"model": DEMO_RERANK_MODEL, "query": "gpu", "documents": documents}
    )
    assert sorted(r["index"] for r in ranked["results"]) == [0, 1, 2]
    assert ranked["usage"]["prompt_tokens"] > 0


def test_missing_capabilities_are_400s_not_5xx(demo: Demo):
    client = demo.openai()
    with pytest.raises(openai.BadRequestError, match="does not support embeddings"):
        client.embeddings.create(model=DEMO_MODEL, input="x")  # was a 502 from the backend's 501
    with pytest.raises(openai.BadRequestError, match="does not support chat"):
        client.chat.completions.create(model=DEMO_EMBED_MODEL, messages=CHAT)
    with pytest.raises(openai.BadRequestError, match="does not support rerank"):
        client.post("/rerank", cast_to=object, body={"model": DEMO_MODEL, "query": "q", "documents": ["d"]})


@pytest.mark.parametrize("stream", [False, True])
def test_structured_outputs_follow_the_schema(demo: Demo, stream: bool):
    """Were a 400 "Failed to initialize samplers: std::exception" (the tiny model's vocabulary)."""
    client = demo.openai()
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    formats = [
        {"type": "json_object"},
        {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}},
    ]
    answers = []
    for response_format in formats:
        kwargs = {"model": DEMO_MODEL, "messages": CHAT, "response_format": response_format, "temperature": 0}
        if stream:
            chunks = client.chat.completions.create(**kwargs, stream=True)
            answers.append(json.loads("".join(c.choices[0].delta.content or "" for c in chunks if c.choices)))
        else:
            answers.append(json.loads(client.chat.completions.create(**kwargs).choices[0].message.content))
    assert answers == [{" " + REPLY: " " + REPLY}, {"answer": " " + REPLY}]


def test_tool_calls_come_back_as_tool_calls(demo: Demo):
    client = demo.openai()
    one = client.chat.completions.create(
        model=DEMO_MODEL, messages=CHAT, tools=[WEATHER], tool_choice="required", parallel_tool_calls=False
    ).choices[0]
    assert one.finish_reason == "tool_calls"
    (call,) = one.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": " " + REPLY}

    # Parallel calls: this model keeps calling until max_tokens (EOS never beats another call).
    several = client.chat.completions.create(
        model=DEMO_MODEL, messages=CHAT, tools=[WEATHER], tool_choice="required", max_tokens=120
    ).choices[0]
    calls = several.message.tool_calls or []
    assert len(calls) >= 2 and len({c.id for c in calls}) == len(calls)
    assert all(json.loads(c.function.arguments) == {"city": " " + REPLY} for c in calls)

    # Streamed: the call arrives as deltas (name first, then argument pieces) keyed by index.
    chunks = list(
        client.chat.completions.create(
            model=DEMO_MODEL,
            messages=CHAT,
            tools=[WEATHER],
            tool_choice="required",
            parallel_tool_calls=False,
            stream=True,
        )
    )
    deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert len(deltas) > 1 and {d.index for d in deltas} == {0}
    name = "".join(d.function.name or "" for d in deltas if d.function)
    arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
    assert name == "get_weather" and json.loads(arguments) == {"city": " " + REPLY}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"

    # Without tool_choice the model answers in words (the tool is offered, not forced).
    plain = client.chat.completions.create(model=DEMO_MODEL, messages=CHAT, tools=[WEATHER]).choices[0]
    assert (plain.message.content or "").strip() == REPLY and not plain.message.tool_calls


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_messages(demo: Demo, stream: bool):
    claude = demo.anthropic()
    before = len(UsageStore(demo.engine).records())
    if stream:
        with claude.messages.stream(
            model=DEMO_MODEL, max_tokens=64, system="be brief", messages=CHAT
        ) as events:
            text = "".join(events.text_stream)
            message = events.get_final_message()
    else:
        message = claude.messages.create(model=DEMO_MODEL, max_tokens=64, messages=CHAT)
        text = message.content[0].text
    assert text.strip() == REPLY
    assert message.stop_reason == "end_turn" and message.usage.output_tokens > 0
    record = max(UsageStore(demo.engine).records(), key=lambda r: r.created_at)
    assert len(UsageStore(demo.engine).records()) == before + 1
    assert (record.endpoint, record.completion_tokens) == ("messages", message.usage.output_tokens)
    assert record.prompt_tokens == message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0)


def test_anthropic_tool_use(demo: Demo):
    tool = {"name": "get_weather", "input_schema": WEATHER["function"]["parameters"]}
    message = demo.anthropic().messages.create(
        model=DEMO_MODEL,
        max_tokens=200,
        messages=CHAT,
        tools=[tool],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
    )
    uses = [block for block in message.content if block.type == "tool_use"]
    assert uses and uses[0].name == "get_weather" and uses[0].input == {"city": " " + REPLY}
