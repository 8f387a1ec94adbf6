"""The few fields of an OpenAI request body the gateway acts on, checked before forwarding.

Only the fields `request_fields` lists are forwarded (the backend validates their values), and the
fields the gateway itself uses to route, stream, meter and reserve quota must have OpenAI's
types: a string `stream` or a list `stream_options` used to reach the gateway's own code and
answer 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rigshift.readers.names import name_problem
from rigshift.server.errors import BadRequest
from rigshift.server.request_fields import check_request_fields

MAX_MODEL_NAME = 256
# Outputs per request (choices `n` x prompts in a completions list). OpenAI allows n up to 128;
# here every output takes a backend slot, and a farm's replicas have a few (docs/server.md).
MAX_OUTPUTS = 16

PROMPT_FIELD = {
    "chat": "messages",
    "completions": "prompt",
    "embeddings": "input",
    "rerank": "documents",
    "messages": "messages",
}
STREAMING = frozenset({"chat", "completions", "messages"})


@dataclass(frozen=True)
class GatewayFields:
    model: str
    stream: bool
    wants_usage: bool  # the client asked for the usage chunk itself
    max_tokens: int | None  # the completion's upper bound, when the client set one
    n: int
    prompts: int = 1  # prompts in a completions list (each gets `n` choices)

    @property
    def outputs(self) -> int:
        """Completions the request generates: what it is billed and reserved for."""
        return self.n * self.prompts


def read_fields(body: Any, endpoint: str) -> GatewayFields:
    """The gateway's fields of `body`, or `BadRequest` naming the first bad one."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object", code="invalid_json")
    check_request_fields(body, endpoint)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required (a model name string)", param="model", code="missing_model")
    if len(model) > MAX_MODEL_NAME:
        raise BadRequest(f"'model' is longer than {MAX_MODEL_NAME} characters", param="model")
    if (problem := name_problem(model)) is not None:
        raise BadRequest(f"'model': {problem}", param="model", code="invalid_value")
    stream = _optional(body, "stream", bool, "a boolean") or False
    options = _optional(body, "stream_options", dict, "an object")
    wants_usage = False
    if options is not None:
        wants_usage = (
            _optional(options, "include_usage", bool, "a boolean", prefix="stream_options.") or False
        )
    max_tokens = None
    for name in ("max_tokens", "max_completion_tokens"):
        value = _optional(body, name, int, "a non-negative integer")
        if value is not None:
            if value < 0:
                raise BadRequest(f"'{name}' must be a non-negative integer", param=name)
            max_tokens = value if max_tokens is None else min(max_tokens, value)
    n = _optional(body, "n", int, f"an integer from 1 to {MAX_OUTPUTS}")
    if n is not None and not 1 <= n <= MAX_OUTPUTS:
        raise BadRequest(f"'n' must be an integer from 1 to {MAX_OUTPUTS}", param="n")
    prompt_field = PROMPT_FIELD[endpoint]
    prompt = body.get(prompt_field)
    if endpoint in ("chat", "messages"):
        if prompt is not None and not isinstance(prompt, list):
            raise BadRequest("'messages' must be a list of messages", param="messages")
        if endpoint == "messages" and not max_tokens:  # Anthropic's API requires it
            raise BadRequest("'max_tokens' is required (a positive integer)", param="max_tokens")
    elif endpoint == "rerank":
        check_rerank_body(body)
    elif prompt is not None and not isinstance(prompt, str | list):
        raise BadRequest(f"'{prompt_field}' must be a string or a list", param=prompt_field)
    prompts = len(prompt_list(prompt)) if endpoint == "completions" else 1
    if (n or 1) * prompts > MAX_OUTPUTS:
        raise BadRequest(
            f"'n' x the number of prompts is {(n or 1) * prompts}; at most {MAX_OUTPUTS} outputs per request",
            param="n" if n and n > 1 else prompt_field,
        )
    return GatewayFields(
        model=model,
        stream=bool(stream) and endpoint in STREAMING,
        wants_usage=wants_usage,
        max_tokens=max_tokens,
        n=n or 1,
        prompts=max(1, prompts),
    )


def check_rerank_body(body: dict[str, Any]) -> None:
    """A rerank needs a `query` string and a list of `documents` strings."""
    if not isinstance(body.get("query"), str):
        raise BadRequest("'query' is required (a string)", param="query")
    documents = body.get("documents")
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents) or not documents:
        raise BadRequest("'documents' must be a non-empty list of strings", param="documents")
    top_n = body.get("top_n")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise BadRequest("'top_n' must be a positive integer", param="top_n")


def prompt_list(prompt: Any) -> list[Any]:
    """A completions `prompt` as its list of prompts: a string, a list of token ids, or a list of
    either (llama-server, like OpenAI, answers each with its own choices)."""
    if isinstance(prompt, list) and prompt and not all(isinstance(t, int) for t in prompt):
        return prompt
    return [prompt]


def _optional(body: dict[str, Any], name: str, kind: type, expected: str, prefix: str = "") -> Any:
    value = body.get(name)
    if value is None:
        return None
    # bool is an int in Python; JSON's true is not a number.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRequest(f"'{prefix}{name}' must be {expected}", param=prefix + name)
    return value
