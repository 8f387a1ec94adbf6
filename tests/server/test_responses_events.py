"""The chat-stream-to-Responses-events translation on its own: llama-server's exact chunks in."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rigshift.server.responses_events import ChatStreamTranslator, ResponseDraft, plain_token
from rigshift.server.responses_request import read_request

TAIL = '"created":1,"id":"chatcmpl-x","model":"rigshift-tiny","system_fingerprint":"b0","object":"chat.completion.chunk"'


def chunk(delta: dict, finish: str | None = None) -> bytes:
    """A chunk as llama-server writes it (compact JSON, this key order, UTF-8 unescaped)."""
    choice = {"finish_reason": finish, "index": 0, "delta": delta}
    return f'data: {{"choices":[{json.dumps(choice, separators=(",", ":"), ensure_ascii=False)}],{TAIL}}}\n\n'.encode()


USAGE = (
    b'data: {"choices":[],' + TAIL.encode() + b',"usage":{"completion_tokens":3,"prompt_tokens":56,'
    b'"total_tokens":59,"prompt_tokens_details":{"cached_tokens":7}}}\n\n'
)
PIECES = [' "quoted"', " caf\u00e9 \\ \n", " \U0001f600"]
STREAM = [
    chunk({"role": "assistant", "content": None}),
    *[chunk({"content": p}) for p in PIECES],
    chunk({}, finish="stop"),
    USAGE,
    b"data: [DONE]\n\n",
]


def events(output: bytes) -> list[dict]:
    found = []
    for block in output.split(b"\n\n"):
        if block:
            kind, data = block.split(b"\n", 1)
            event = json.loads(data.removeprefix(b"data: "))
            assert kind == b"event: " + event["type"].encode()
            found.append(event)
    return found


def translate(stream: list[bytes], split_at: int | None = None) -> list[dict]:
    translator = ChatStreamTranslator(
        ResponseDraft("resp_1", 10.0, read_request({"model": "m", "input": "hi"}))
    )
    raw = b"".join(stream)
    pieces = [raw] if split_at is None else [raw[:split_at], raw[split_at:]]
    out = translator.opening() + b"".join(translator.feed(p) for p in pieces) + translator.flush()
    return events(out + translator.closing(translator.result(11.0)))


def test_llama_servers_chunks_become_the_typed_events_with_every_character_kept():
    found = translate(STREAM)
    deltas = [e["delta"] for e in found if e["type"] == "response.output_text.delta"]
    assert deltas == PIECES
    assert [e["sequence_number"] for e in found] == list(range(len(found)))
    done = next(e for e in found if e["type"] == "response.output_text.done")
    assert done["text"] == "".join(PIECES)
    completed = found[-1]
    assert completed["type"] == "response.completed"
    assert completed["response"]["output"][0]["content"][0]["text"] == "".join(PIECES)
    assert completed["response"]["usage"] == {
        "input_tokens": 56,
        "input_tokens_details": {"cached_tokens": 7},
        "output_tokens": 3,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 59,
    }


def test_events_split_anywhere_across_reads_translate_the_same():
    whole = [(e["type"], e.get("delta")) for e in translate(STREAM)]
    for split_at in range(1, len(b"".join(STREAM))):  # inside events, lines and UTF-8 characters too
        assert [(e["type"], e.get("delta")) for e in translate(STREAM, split_at)] == whole, split_at


@pytest.mark.parametrize(
    "event",
    [
        chunk({"role": "assistant", "content": None}),
        chunk({}, finish="stop"),
        chunk({"content": "x"}, finish="length"),  # the last token with its finish reason
        chunk({"content": "x", "reasoning_content": "y"}),  # more than content in the delta
        chunk({"content": ""}),
        USAGE,
        b"data: [DONE]\n\n",
    ],
)
def test_the_fast_path_reads_only_plain_token_chunks(event):
    assert plain_token(event.strip()) is None


def test_a_finish_reason_on_the_last_token_is_kept_and_length_means_incomplete():
    found = translate([chunk({"content": "a"}), chunk({"content": "b"}, finish="length"), USAGE])
    assert [e["delta"] for e in found if e["type"] == "response.output_text.delta"] == ["a", "b"]
    assert found[-1]["type"] == "response.incomplete"
    assert found[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_a_mid_stream_error_event_fails_the_response():
    error = (
        b'data: {"error": {"message": "the backend failed mid-stream: reset", "type": "server_error"}}\n\n'
    )
    found = translate([chunk({"content": "a"}), error])
    assert [e["type"] for e in found[-2:]] == ["error", "response.failed"]
    assert found[-1]["response"]["error"] == {
        "code": "server_error",
        "message": "the backend failed mid-stream: reset",
    }


@given(text=st.text(min_size=1), ascii_only=st.booleans())
def test_the_fast_path_reads_any_token_text_as_json_does(text, ascii_only):
    choice = {"finish_reason": None, "index": 0, "delta": {"content": text}}
    encoded = json.dumps(choice, separators=(",", ":"), ensure_ascii=ascii_only)
    event = f'data: {{"choices":[{encoded}],{TAIL}}}'.encode("utf-8", "surrogatepass")
    assert plain_token(event) == text
