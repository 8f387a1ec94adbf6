"""A `/v1/responses` request body, checked, and the chat completions request it runs as.

The gateway serves the Responses API by translating it to the backend's chat completions (why:
docs/server.md, "Responses API"). This module is that translation's input side: it accepts the
text subset of OpenAI's request (input as a string or a list of messages with text parts,
instructions, max_output_tokens, temperature, top_p, store, previous_response_id, stream) and
refuses the rest by name with a 400, never silently: a client that sends `tools` or an image
learns at once that this server does not do them on this route.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from rigshift.server.errors import BadRequest
from rigshift.server.openai_body import _optional
from rigshift.server.request_fields import LLAMA_SAMPLING_EXTRAS, check_request_fields

# OpenAI's request fields this route does not do: a 400 that names them, not "unrecognized".
UNSUPPORTED = {
    "conversation": "use 'previous_response_id'",
    "prompt": "prompt templates are not stored here",
    "reasoning": "the models served here have no reasoning settings",
    "top_logprobs": "log-probabilities are not returned on this route",
    "max_tool_calls": "tools are not supported on this route",
    "context_management": "context management is not supported",
    "prompt_cache_retention": "prompt caching is the server's choice",
}
# Fields of the chat API sent here by mistake.
CHAT_SPELLINGS = {
    "messages": "use 'input'",
    "max_tokens": "use 'max_output_tokens'",
    "max_completion_tokens": "use 'max_output_tokens'",
}
ROLES = ("user", "assistant", "system", "developer")
TEXT_PARTS = ("input_text", "output_text", "text")
MAX_METADATA_PAIRS = 16  # OpenAI's limits on metadata
MAX_METADATA_KEY, MAX_METADATA_VALUE = 64, 512
MAX_RESPONSE_ID = 64


@dataclass(frozen=True)
class ResponsesRequest:
    model: str
    items: list[dict[str, Any]]  # this turn's input, as stored input items (`input_item`)
    instructions: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    store: bool = True
    stream: bool = False
    previous_response_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=dict)  # llama.cpp sampling extras, forwarded


def read_request(body: Any) -> ResponsesRequest:
    """The request in `body`, or `BadRequest` naming the first field this route cannot honour."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object", code="invalid_json")
    for name in body:
        hint = UNSUPPORTED.get(name) or CHAT_SPELLINGS.get(name)
        if hint is not None:
            what = "not supported on /v1/responses" if name in UNSUPPORTED else "not a Responses API field"
            raise BadRequest(f"'{name}' is {what} ({hint})", param=name, code="unsupported_parameter")
    check_request_fields(body, "responses")
    _check_defaults_only(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required (a model name string)", param="model", code="missing_model")
    previous = _optional(body, "previous_response_id", str, "a response id string")
    if previous is not None and not 0 < len(previous) <= MAX_RESPONSE_ID:
        raise BadRequest("'previous_response_id' is not a response id", param="previous_response_id")
    if "input" not in body or body["input"] is None:
        raise BadRequest("'input' is required (a string or a list of messages)", param="input")
    max_output = _optional(body, "max_output_tokens", int, "a positive integer")
    if max_output is not None and max_output < 1:
        raise BadRequest("'max_output_tokens' must be a positive integer", param="max_output_tokens")
    return ResponsesRequest(
        model=model,
        items=input_items(body["input"]),
        instructions=_optional(body, "instructions", str, "a string"),
        max_output_tokens=max_output,
        temperature=_number(body, "temperature", 0.0, 2.0),
        top_p=_number(body, "top_p", 0.0, 1.0),
        store=_optional(body, "store", bool, "a boolean") is not False,
        stream=_optional(body, "stream", bool, "a boolean") is True,
        previous_response_id=previous,
        metadata=_metadata(body.get("metadata")),
        sampling={k: v for k, v in body.items() if k in LLAMA_SAMPLING_EXTRAS},
    )


def input_items(value: Any) -> list[dict[str, Any]]:
    """`input` as message items with text parts (a string is one user message)."""
    if isinstance(value, str):
        return [message_item("user", [{"type": "input_text", "text": value}])]
    if not isinstance(value, list) or not value:
        raise BadRequest("'input' must be a string or a non-empty list of messages", param="input")
    return [_item(item, f"input[{i}]") for i, item in enumerate(value)]


def message_item(role: str, content: list[dict[str, Any]], status: str = "completed") -> dict[str, Any]:
    return {"id": new_id("msg_"), "type": "message", "role": role, "status": status, "content": content}


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(24)


def chat_messages(instructions: str | None, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chat messages for `items` (stored input and output items), `instructions` first."""
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    for item in items:
        texts = [part["text"] for part in item["content"]]
        # llama.cpp's chat templates know system, not OpenAI's newer "developer".
        role = "system" if item["role"] == "developer" else item["role"]
        content: str | list[dict[str, str]] = (
            texts[0] if len(texts) == 1 else [{"type": "text", "text": t} for t in texts]
        )
        messages.append({"role": role, "content": content})
    return messages


def chat_body(request: ResponsesRequest, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The chat completions request the gateway forwards for `request`."""
    body: dict[str, Any] = {"model": request.model, "messages": messages, **request.sampling}
    if request.max_output_tokens is not None:
        body["max_tokens"] = request.max_output_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stream:
        # The usage chunk is read here for the response's `usage`: the client never sees it.
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _item(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise BadRequest(f"'{where}' must be a message object", param=where)
    kind = item.get("type", "message")
    if kind != "message":
        raise BadRequest(
            f"'{where}.type' {kind!r} is not supported on this route (only messages with text)",
            param=f"{where}.type",
            code="unsupported_parameter",
        )
    role = item.get("role")
    if role not in ROLES:
        raise BadRequest(f"'{where}.role' must be one of {', '.join(ROLES)}", param=f"{where}.role")
    content = item.get("content")
    part_type = "output_text" if role == "assistant" else "input_text"
    if isinstance(content, str):
        return message_item(role, [{"type": part_type, "text": content}])
    if not isinstance(content, list) or not content:
        raise BadRequest(
            f"'{where}.content' must be a string or a non-empty list of text parts", param=f"{where}.content"
        )
    parts = []
    for j, part in enumerate(content):
        at = f"{where}.content[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in TEXT_PARTS:
            raise BadRequest(
                f"'{at}.type' {kind!r} is not supported (text only: the models served here have no "
                "vision, audio or file input)",
                param=f"{at}.type",
                code="unsupported_parameter",
            )
        text = part.get("text")
        if not isinstance(text, str):
            raise BadRequest(f"'{at}.text' must be a string", param=f"{at}.text")
        parts.append({"type": part_type, "text": text})
    return message_item(role, parts)


# Fields accepted only with the value that means "what this route does anyway".
def _check_defaults_only(body: dict[str, Any]) -> None:
    checks = {
        "tools": (lambda v: v == [], "tools are not supported on this route"),
        "tool_choice": (lambda v: v in ("none", "auto"), "tools are not supported on this route"),
        "include": (lambda v: v == [], "no extra output is available to include"),
        "background": (lambda v: v is False, "background responses are not supported"),
        "truncation": (lambda v: v == "disabled", "a prompt too long for the context is refused"),
        "text": (
            lambda v: isinstance(v, dict) and v.get("format", {"type": "text"}) == {"type": "text"},
            "only text output is supported on this route",
        ),
        "parallel_tool_calls": (lambda v: isinstance(v, bool), "a boolean"),
        "service_tier": (lambda v: v in ("auto", "default"), "one tier is served"),
    }
    for name, (accepted, why) in checks.items():
        value = body.get(name)
        if value is not None and not accepted(value):
            raise BadRequest(
                f"'{name}' = {value!r} is not supported on /v1/responses ({why})",
                param=name,
                code="unsupported_parameter",
            )
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise BadRequest("'stream_options' must be an object", param="stream_options")
    for name in ("user", "safety_identifier", "prompt_cache_key"):
        _optional(body, name, str, "a string")


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if (
        not isinstance(value, dict)
        or len(value) > MAX_METADATA_PAIRS
        or not all(
            isinstance(k, str)
            and len(k) <= MAX_METADATA_KEY
            and isinstance(v, str)
            and len(v) <= MAX_METADATA_VALUE
            for k, v in value.items()
        )
    ):
        raise BadRequest(
            f"'metadata' must be an object of at most {MAX_METADATA_PAIRS} string pairs (keys up to "
            f"{MAX_METADATA_KEY} characters, values up to {MAX_METADATA_VALUE})",
            param="metadata",
        )
    return dict(value)


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadRequest(f"'{name}' must be a number from {low:g} to {high:g}", param=name)
    return float(value)
