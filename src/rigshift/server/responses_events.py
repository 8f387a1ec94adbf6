"""The Responses API's output side: a chat completion (or its SSE stream) as a Response object
(or OpenAI's typed Responses events).

A streamed response is `response.created`, `response.in_progress`, `response.output_item.added`,
`response.content_part.added`, one `response.output_text.delta` per chat content chunk, then
`response.output_text.done`, `response.content_part.done`, `response.output_item.done` and
`response.completed` (`response.incomplete` when `max_output_tokens` cut it short); each event
is `event: <type>` plus `data: <json>` with a `sequence_number`, and there is no `data: [DONE]`
(OpenAI's streaming reference, platform.openai.com/docs/api-reference/responses-streaming, read
2026-12). A backend that fails mid-stream ends it with `error` and `response.failed`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any

from rigshift.server.responses_request import ResponsesRequest, message_item
from rigshift.server.sse import DONE, json_payload

_DELTA = "response.output_text.delta"
_PLAIN_TOKEN = b'data: {"choices":[{"finish_reason":null,"index":0,"delta":{"content":"'
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class ResponseDraft:
    """What a response is before the backend answers: its id, time and request."""

    id: str
    created_at: float
    request: ResponsesRequest

    def object(
        self,
        status: str,
        output: list[dict[str, Any]],
        usage: dict[str, Any] | None = None,
        *,
        error: dict[str, str] | None = None,
        completed_at: float | None = None,
    ) -> dict[str, Any]:
        """The Response object in `status` (in_progress, completed, incomplete or failed)."""
        request = self.request
        return {
            "id": self.id,
            "object": "response",
            "created_at": int(self.created_at),
            "status": status,
            "background": False,
            "completed_at": None if completed_at is None else int(completed_at),
            "error": error,
            "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
            "instructions": request.instructions,
            "max_output_tokens": request.max_output_tokens,
            "metadata": request.metadata,
            "model": request.model,
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": request.previous_response_id,
            "store": request.store,
            "temperature": request.temperature,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": request.top_p,
            "truncation": "disabled",
            "usage": usage,
        }


def usage_object(usage: Any) -> dict[str, Any] | None:
    """A chat `usage` in the Responses shape (input/output/total tokens)."""
    if not isinstance(usage, dict) or not isinstance(usage.get("prompt_tokens"), int):
        return None
    prompt, completion = usage["prompt_tokens"], int(usage.get("completion_tokens") or 0)
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached if isinstance(cached, int) else 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def status_of(finish_reason: Any) -> str:
    """A chat choice's finish reason as a response status: cut by the length limit or done."""
    return "incomplete" if finish_reason == "length" else "completed"


def from_chat_completion(draft: ResponseDraft, chat: Any, now: float) -> dict[str, Any]:
    """The Response object for a non-streamed chat completion."""
    chat = chat if isinstance(chat, dict) else {}
    choices = chat.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    text = content if isinstance(content, str) else ""
    status = status_of(choice.get("finish_reason"))
    output = [message_item("assistant", [text_part(text)], status)]
    return draft.object(status, output, usage_object(chat.get("usage")), completed_at=now)


@dataclass
class ChatStreamTranslator:
    """Chat completion SSE chunks in, Responses events out (`feed`), in OpenAI's order."""

    draft: ResponseDraft
    text: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    error: str | None = None
    _sequence: int = 0
    _buffer: bytes = b""
    _message: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self._message = message_item("assistant", [], "in_progress")
        # The one event sent per token, pre-encoded up to its two changing fields (the hot path).
        head = json.dumps({"type": _DELTA, **self._ids(), "logprobs": []})[:-1]
        self._delta_head = f"event: {_DELTA}\ndata: {head}, ".encode()

    def opening(self) -> bytes:
        """The events before the first text: created, in progress, the message and its part."""
        in_progress = json.dumps(self.draft.object("in_progress", []))  # once, for two events
        ids = self._ids()
        return b"".join(
            (
                self._lifecycle("response.created", in_progress),
                self._lifecycle("response.in_progress", in_progress),
                self._event("response.output_item.added", output_index=0, item=self._message),
                self._event("response.content_part.added", **ids, part=text_part("")),
            )
        )

    def feed(self, chunk: bytes) -> bytes:
        """The Responses events for these chat stream bytes (complete SSE events only)."""
        if not self._buffer and chunk.endswith(b"\n\n") and chunk.find(b"\n\n") == len(chunk) - 2:
            return self._translate(chunk)  # the usual read: exactly one whole event
        self._buffer += chunk
        if b"\n\n" not in self._buffer:
            return b""
        *events, self._buffer = self._buffer.split(b"\n\n")
        return b"".join(self._translate(event) for event in events)

    def flush(self) -> bytes:
        """The events of a last chat event the stream did not terminate."""
        return self.feed(b"\n\n") if self._buffer.strip() else b""

    def result(self, now: float) -> dict[str, Any]:
        """The finished Response object (failed when the backend cut the stream)."""
        if self.error is not None:
            error = {"code": "server_error", "message": self.error}
            return self.draft.object("failed", [self._item("incomplete")], self.usage, error=error)
        status = status_of(self.finish_reason)
        return self.draft.object(status, [self._item(status)], self.usage, completed_at=now)

    def closing(self, response: dict[str, Any]) -> bytes:
        """The events that end the stream with `response` (from `result`)."""
        status = response["status"]
        item = response["output"][0]
        ids = self._ids()
        text = "".join(self.text)
        done = [
            self._event("response.output_text.done", **ids, text=text, logprobs=[]),
            self._event("response.content_part.done", **ids, part=text_part(text)),
            self._event("response.output_item.done", output_index=0, item=item),
        ]
        if status == "failed":
            error = response["error"]
            done.append(self._event("error", code=error["code"], message=error["message"], param=None))
        done.append(self._event(f"response.{status}", response=response))
        return b"".join(done)

    def _translate(self, event: bytes) -> bytes:
        stripped = event.strip()
        content = plain_token(stripped)
        if content is not None:
            return self._delta(content)
        if not stripped or stripped.startswith(DONE):
            return b""
        # llama-server writes one `data:` line per event: parsed without splitting it into lines.
        single = stripped.startswith(b"data:") and b"\n" not in stripped
        payload = _loads(stripped[5:]) if single else json_payload(stripped)
        if not isinstance(payload, dict):
            return b""
        if isinstance(payload.get("error"), dict):  # the gateway's mid-stream failure event
            self.error = str(payload["error"].get("message") or "the backend failed mid-stream")
            return b""
        usage = usage_object(payload.get("usage"))
        if usage is not None:
            self.usage = usage
        choices = payload.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return b""
        choice = choices[0]
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        if not isinstance(content, str) or not content:
            return b""
        return self._delta(content)

    def _delta(self, content: str) -> bytes:
        self.text.append(content)
        sequence = self._sequence
        self._sequence += 1
        return b'%s"sequence_number": %d, "delta": %s}\n\n' % (
            self._delta_head,
            sequence,
            encode_basestring_ascii(content).encode(),
        )

    def _item(self, status: str) -> dict[str, Any]:
        return {**self._message, "status": status, "content": [text_part("".join(self.text))]}

    def _ids(self) -> dict[str, Any]:
        return {"item_id": self._message["id"], "output_index": 0, "content_index": 0}

    def _lifecycle(self, kind: str, response: str) -> bytes:
        """A `response.*` event around an already encoded Response object."""
        head = json.dumps({"type": kind, "sequence_number": self._sequence})[:-1]
        self._sequence += 1
        return f'event: {kind}\ndata: {head}, "response": {response}}}\n\n'.encode()

    def _event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + json.dumps(data).encode() + b"\n\n"


def plain_token(event: bytes) -> str | None:
    """The text of llama-server's usual one-token chunk, read without parsing the whole event:
    `data: {"choices":[{"finish_reason":null,"index":0,"delta":{"content":"…"}}],…}` with nothing
    else in the delta and no usage. None for any other event (parsed in full instead)."""
    if not event.startswith(_PLAIN_TOKEN) or b'"usage"' in event:
        return None
    start = len(_PLAIN_TOKEN)
    end = event.find(b'"', start)
    if end > start and b"\\" not in event[start:end]:  # no escape: the string ends at the next quote
        if not event.startswith(b"}}]", end + 1):
            return None
        try:
            return event[start:end].decode()
        except UnicodeDecodeError:
            return None
    try:  # escapes: JSON's own decoder reads the string (and only the string)
        tail = event[start - 1 :].decode()
        text, at = _DECODER.raw_decode(tail)
    except ValueError:  # UnicodeDecodeError is one
        return None
    return text if isinstance(text, str) and text and tail.startswith("}}]", at) else None


def _loads(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None
