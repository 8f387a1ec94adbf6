"""Count a request's prompt tokens at the gateway, for when the backend's usage never comes.

A stream the client aborts, or one cut by a backend crash, ends before llama-server's final usage
chunk, and prompt tokens used to be billed as 0 (an 1,854-token prompt aborted after the first
event was billed nothing). Quota reservations also need the prompt's size before forwarding.

The count comes from the backend's own tokenizer: llama-server's `POST /apply-template` (the
chat template applied to the request, exactly as it will be for generation) then
`POST /tokenize`. Where no backend can tokenize (it crashed, or it has no such endpoint), the
count is an estimate, and says so: `source` is "tokenized" or "estimated", and the usage row
records which.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from rigshift.run.contracts import ReplicaEndpoint
from rigshift.server.backend_client import BackendConnectionError, BackendPool
from rigshift.server.template_overhead import SPECIAL_TOKENS, TemplateOverhead

TOKENIZE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class PromptCount:
    tokens: int
    source: str  # "tokenized" (the backend's tokenizer) or "estimated" (from the body's size)


def prompt_texts(body: dict[str, Any], endpoint: str) -> tuple[list[str], int, int]:
    """(texts, tokens given as ids, messages) of the request's prompt."""
    texts: list[str] = []
    ids = 0
    messages = body.get("messages")
    n_messages = 0
    if endpoint == "chat" and isinstance(messages, list):
        for m in messages:
            n_messages += 1
            content = m.get("content") if isinstance(m, dict) else None
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    value = body.get("prompt" if endpoint == "completions" else "input")
    if endpoint != "chat":
        items = value if isinstance(value, list) else [value]
        if items and all(isinstance(i, int) for i in items):  # one prompt given as token ids
            ids += len(items)
        else:
            for item in items:
                if isinstance(item, str):
                    texts.append(item)
                elif isinstance(item, list):
                    ids += sum(1 for t in item if isinstance(t, int))
    return texts, ids, n_messages


def estimate_tokens(body: dict[str, Any], endpoint: str, template: TemplateOverhead | None = None) -> int:
    """A best guess for billing when nothing could tokenize: ~4 bytes per token, plus ids given;
    a chat prompt's template as measured on its model (`template`), else a few tokens a message."""
    texts, ids, messages = prompt_texts(body, endpoint)
    if endpoint == "chat" and template is not None:
        return template.estimate(str(body.get("model")), body)
    return sum(len(t.encode()) for t in texts) // 4 + ids + 4 * messages


def upper_bound_tokens(body: dict[str, Any], endpoint: str, template: TemplateOverhead | None = None) -> int:
    """At least as many tokens as the prompt can have: a byte-level tokenizer's count, plus the
    chat template (`template`'s measured excess on this model, else a generous default). What a
    quota reserves when the backend cannot tokenize."""
    texts, ids, _messages = prompt_texts(body, endpoint)
    if endpoint == "chat":
        return (template or TemplateOverhead()).upper_bound(str(body.get("model")), body)
    return sum(len(t.encode()) for t in texts) + ids + SPECIAL_TOKENS * max(1, len(texts))


async def count_prompt(
    pool: BackendPool,
    replicas: list[ReplicaEndpoint],
    endpoint: str,
    body: dict[str, Any],
    raw: bytes,
    *,
    fallback: str = "estimate",
    template: TemplateOverhead | None = None,
) -> PromptCount:
    """The prompt's tokens by the first of `replicas` that can tokenize; else an estimate
    (`fallback="estimate"`, for billing) or an upper bound (`fallback="upper"`, for quotas).
    A chat count is also a measurement of the model's template, kept in `template`."""
    for replica in replicas:
        try:
            async with asyncio.timeout(TOKENIZE_TIMEOUT_S):
                tokens = await _tokenize(pool, replica, endpoint, body, raw)
        except (BackendConnectionError, TimeoutError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if tokens is not None:
            if template is not None and endpoint == "chat":
                template.observe(str(body.get("model")), body, tokens)
            return PromptCount(tokens, "tokenized")
    if fallback == "upper":
        return PromptCount(upper_bound_tokens(body, endpoint, template), "estimated")
    return PromptCount(estimate_tokens(body, endpoint, template), "estimated")


async def _tokenize(
    pool: BackendPool, replica: ReplicaEndpoint, endpoint: str, body: dict[str, Any], raw: bytes
) -> int | None:
    base = replica.base_url.rstrip("/")
    if endpoint == "chat":
        templated = await _post_json(pool, base + "/apply-template", raw)
        prompts: list[Any] = [templated["prompt"]]
    else:
        value = body.get("prompt" if endpoint == "completions" else "input")
        items = value if isinstance(value, list) else [value]
        prompts = [items] if items and all(isinstance(i, int) for i in items) else items
    total = 0
    for prompt in prompts:
        if isinstance(prompt, list):  # token ids: nothing to ask
            total += len(prompt)
            continue
        if not isinstance(prompt, str):
            return None
        answer = await _post_json(
            pool, base + "/tokenize", json.dumps({"content": prompt, "add_special": True}).encode()
        )
        total += len(answer["tokens"])
    return total


async def _post_json(pool: BackendPool, url: str, body: bytes) -> Any:
    response = await pool.post(url, body)
    content = await response.read()
    if response.status_code != 200:
        raise ValueError(f"HTTP {response.status_code}")
    return json.loads(content)


def reply_texts(reply: Any) -> list[str]:
    """The generated texts of a non-streamed chat or completion reply."""
    texts: list[str] = []
    choices = reply.get("choices") if isinstance(reply, dict) else None
    for choice in choices if isinstance(choices, list) else []:
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else choice.get("text")
        if isinstance(content, str):
            texts.append(content)
    return texts


async def count_completion(pool: BackendPool, replicas: list[ReplicaEndpoint], reply: Any) -> PromptCount:
    """A reply's generated tokens by the backend's tokenizer (no special tokens), else estimated."""
    texts = reply_texts(reply)
    for replica in replicas:
        try:
            async with asyncio.timeout(TOKENIZE_TIMEOUT_S):
                total = 0
                for text in texts:
                    answer = await _post_json(
                        pool,
                        replica.base_url.rstrip("/") + "/tokenize",
                        json.dumps({"content": text, "add_special": False}).encode(),
                    )
                    total += len(answer["tokens"])
            return PromptCount(total, "tokenized")
        except (BackendConnectionError, TimeoutError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return PromptCount(sum(len(t.encode()) for t in texts) // 4, "estimated")
