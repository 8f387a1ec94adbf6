"""Which request fields the gateway forwards, per endpoint: OpenAI's, plus a few safe extras.

llama-server reads many fields of its own, and some of them decide how much work a request is:
`n_predict` wins over `max_tokens` (a key on a 100-token quota was billed 2,048 tokens),
`n_cmpl` makes several choices, `id_slot` picks a slot, `cache_prompt`/`n_keep`/`n_discard`
touch other requests' KV cache. The gateway meters and reserves from the fields it understands,
so it forwards only those: OpenAI's request fields for the endpoint (the API reference,
platform.openai.com/docs/api-reference, read 2026-12) and a short list of llama.cpp sampling
extras that change which tokens are picked, never how many or where they run (every completion
is bounded by the `max_tokens` the gateway forwards).

Anything else is refused with a 400, as OpenAI refuses it ("Unrecognized request argument
supplied: ..."), rather than dropped: a client that sends `n_predict` learns at once that it has
no effect here instead of getting a reply of another length than it asked for.
"""

from __future__ import annotations

import difflib
from typing import Any

from rigshift.server.errors import BadRequest

_CHAT = frozenset(
    {
        "messages", "model", "audio", "frequency_penalty", "function_call", "functions",
        "logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata", "modalities",
        "n", "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key",
        "reasoning_effort", "response_format", "safety_identifier", "seed", "service_tier", "stop",
        "store", "stream", "stream_options", "temperature", "tool_choice", "tools",
        "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
    }
)  # fmt: skip
_COMPLETIONS = frozenset(
    {
        "model", "prompt", "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs",
        "max_tokens", "n", "presence_penalty", "seed", "stop", "stream", "stream_options",
        "suffix", "temperature", "top_p", "user",
    }
)  # fmt: skip
_EMBEDDINGS = frozenset({"input", "model", "dimensions", "encoding_format", "user"})
# llama.cpp's /v1/rerank (Jina's and Cohere's shape); `texts` is TEI's spelling of documents.
_RERANK = frozenset({"model", "query", "documents", "top_n"})
# Anthropic's Messages API: the fields llama-server's converter reads (server-chat.cpp).
_MESSAGES = frozenset(
    {
        "model", "messages", "max_tokens", "system", "stop_sequences", "stream", "temperature",
        "top_p", "top_k", "tools", "tool_choice", "metadata", "thinking",
    }
)  # fmt: skip
# /v1/responses (translated to chat, `responses_request`): the fields it acts on or can honour;
# OpenAI's others (tools, reasoning, conversation, ...) are refused there by name.
_RESPONSES = frozenset(
    {
        "model", "input", "instructions", "max_output_tokens", "temperature", "top_p", "store",
        "previous_response_id", "stream", "stream_options", "metadata", "user",
        "safety_identifier", "prompt_cache_key", "service_tier", "parallel_tool_calls",
        "truncation", "text", "tool_choice", "tools", "include", "background",
    }
)  # fmt: skip
# llama.cpp's sampling knobs: which token comes next, never how many or on which slot.
LLAMA_SAMPLING_EXTRAS = frozenset(
    {
        "top_k", "min_p", "typical_p", "repeat_penalty", "repeat_last_n", "mirostat",
        "mirostat_tau", "mirostat_eta", "ignore_eos", "grammar", "json_schema",
    }
)  # fmt: skip

ALLOWED_FIELDS: dict[str, frozenset[str]] = {
    "chat": _CHAT | LLAMA_SAMPLING_EXTRAS,
    "completions": _COMPLETIONS | LLAMA_SAMPLING_EXTRAS,
    "embeddings": _EMBEDDINGS,
    "rerank": _RERANK,
    "messages": _MESSAGES,
    "responses": _RESPONSES | LLAMA_SAMPLING_EXTRAS,
}

# The gateway meters a stream from one usage event per output, at its end.
STREAM_OPTIONS = frozenset({"include_usage", "include_obfuscation"})

# llama-server's own fields that OpenAI's API spells another way: the refusal says which.
BACKEND_FIELD_HINTS = {
    "n_predict": "use 'max_tokens'",
    "n_cmpl": "use 'n'",
    "n_probs": "use 'logprobs' / 'top_logprobs'",
    "id_slot": "the gateway chooses the replica and slot",
    "cache_prompt": "prompt caching is the server's choice",
    "n_keep": "context shifting is the server's choice",
    "n_discard": "context shifting is the server's choice",
    "t_max_predict_ms": "use 'max_tokens'",
}

# OpenAI's own limits on log-probabilities (each one a per-token list in the reply).
MAX_TOP_LOGPROBS = 20  # chat: top_logprobs
MAX_COMPLETION_LOGPROBS = 5  # completions: logprobs


def check_request_fields(body: dict[str, Any], endpoint: str) -> None:
    """`BadRequest` naming the first field the gateway does not forward for `endpoint`."""
    allowed = ALLOWED_FIELDS[endpoint]
    for name in body:
        if name in allowed:
            continue
        message = f"Unrecognized request argument supplied: {name}"
        hint = BACKEND_FIELD_HINTS.get(name)
        close = difflib.get_close_matches(name, sorted(allowed), n=1)
        if hint:
            message += f" ({hint})"
        elif close:
            message += f" (did you mean {close[0]!r}?)"
        raise BadRequest(message, param=name, code="unknown_parameter")
    options = body.get("stream_options")
    for name in options if isinstance(options, dict) else ():
        if name not in STREAM_OPTIONS:  # e.g. vLLM's continuous_usage_stats: usage in every chunk
            raise BadRequest(
                f"Unrecognized request argument supplied: stream_options.{name}",
                param=f"stream_options.{name}",
                code="unknown_parameter",
            )
    _check_logprobs(body, endpoint)


def _check_logprobs(body: dict[str, Any], endpoint: str) -> None:
    if endpoint == "chat":
        name, limit, value = "top_logprobs", MAX_TOP_LOGPROBS, body.get("top_logprobs")
    elif endpoint == "completions":
        name, limit, value = "logprobs", MAX_COMPLETION_LOGPROBS, body.get("logprobs")
    else:
        return
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise BadRequest(f"'{name}' must be an integer from 0 to {limit}", param=name)


def one_length_field(body: dict[str, Any], max_tokens: int | None) -> bool:
    """Forward one completion limit, the smaller of `max_tokens` and `max_completion_tokens`
    (llama-server reads `max_completion_tokens` first, so a large one beside a small
    `max_tokens` would win there). True when `body` was changed."""
    if "max_completion_tokens" not in body:
        return False
    del body["max_completion_tokens"]
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return True
