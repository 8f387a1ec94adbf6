"""What differs between the gateway's endpoints: how each is counted, metered and streamed.

The gateway forwards every endpoint the same way (raw bytes to the same path on a replica); the
few places it must read a body or a reply go through here:

* usage in a reply: OpenAI's `prompt_tokens`/`completion_tokens` (chat, completions,
  embeddings, rerank) or Anthropic's `input_tokens`/`output_tokens` (`/v1/messages`);
* the prompt a quota reservation counts: an Anthropic request is counted as the chat request
  llama-server turns it into (system first), a rerank as its query and documents;
* the stream meter: Anthropic's events carry usage in `message_start` and `message_delta`.
"""

from __future__ import annotations

import json
from typing import Any

from rigshift.server.sse import StreamMeter, json_payload

# Endpoints that generate tokens (the others only read their input).
GENERATING = frozenset({"chat", "completions", "messages"})
# Endpoints whose streams report usage only when asked (`stream_options.include_usage`).
USAGE_ON_REQUEST = frozenset({"chat", "completions"})


def reply_usage(reply: Any) -> tuple[int, int] | None:
    """(prompt, completion) tokens a non-streamed reply reports, or None when it reports none."""
    usage = reply.get("usage") if isinstance(reply, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if isinstance(prompt, int) and not isinstance(prompt, bool):
        return prompt, completion if isinstance(completion, int) and not isinstance(completion, bool) else 0
    if _is_int(usage.get("input_tokens")):
        return anthropic_prompt_tokens(usage), int(usage.get("output_tokens") or 0)
    return None


def anthropic_prompt_tokens(usage: dict[str, Any]) -> int:
    """Every prompt token processed: Anthropic reports cache reads apart from `input_tokens`
    (OpenAI's `prompt_tokens` includes them, and chat bills them, so messages do too)."""
    cached = sum(int(usage.get(k) or 0) for k in ("cache_read_input_tokens", "cache_creation_input_tokens"))
    return int(usage.get("input_tokens") or 0) + cached


def counting_request(endpoint: str, body: dict[str, Any], raw: bytes) -> tuple[str, dict[str, Any], bytes]:
    """(endpoint, body, raw) to count the prompt of: the request itself where the tokenizer
    understands it, else the chat or embeddings request that holds the same text."""
    if endpoint == "messages":
        system = body.get("system")
        messages = [
            {"role": m.get("role"), "content": _text(m.get("content"))} for m in _dicts(body.get("messages"))
        ]
        if system:
            messages.insert(0, {"role": "system", "content": _text(system)})
        chat = {"model": body.get("model"), "messages": messages}
        return "chat", chat, json.dumps(chat).encode()
    if endpoint == "rerank":
        texts = [body.get("query"), *(body.get("documents") or [])]
        embed = {"model": body.get("model"), "input": [t for t in texts if isinstance(t, str)]}
        return "embeddings", embed, json.dumps(embed).encode()
    return endpoint, body, raw


def stream_meter(endpoint: str, strip_usage_chunk: bool, n: int, outputs: int) -> StreamMeter:
    if endpoint == "messages":
        return AnthropicStreamMeter(strip_usage_chunk=False)
    return StreamMeter(strip_usage_chunk=strip_usage_chunk, n=n, outputs=outputs)


class AnthropicStreamMeter(StreamMeter):
    """Reads Anthropic's stream: the prompt in `message_start`, the completion in
    `message_delta` (always sent: nothing is stripped or merged), text in `content_block_delta`."""

    def _event(self, event: bytes) -> bytes | None:
        if b'"usage"' in event:
            payload = json_payload(event.strip())
            kind = payload.get("type") if isinstance(payload, dict) else None
            if kind == "message_start" and isinstance(payload, dict):
                message = payload.get("message")
                usage = message.get("usage") if isinstance(message, dict) else None
                if isinstance(usage, dict):
                    self.prompt_tokens = anthropic_prompt_tokens(usage)
            elif kind == "message_delta" and isinstance(payload, dict):
                usage = payload.get("usage")
                if isinstance(usage, dict) and _is_int(usage.get("output_tokens")):
                    self.completion_tokens = int(usage["output_tokens"])
                    self._usage_events += 1
        elif b'"content_block_delta"' in event:
            self.content_chunks += 1
        return event


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(content: Any) -> str:
    """An Anthropic content (a string, or blocks) as the text a tokenizer sees."""
    if isinstance(content, str):
        return content
    parts = []
    for block in _dicts(content):
        if block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_use":
            parts.append(json.dumps(block.get("input", {})))
        elif block.get("type") == "tool_result":
            parts.append(_text(block.get("content")))
    return "\n".join(parts)
