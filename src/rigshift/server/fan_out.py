"""Several outputs in one non-streamed request, run one per backend call and billed for all.

llama-server answers `n` > 1 (or a completions list of prompts) with every choice but the usage
of the first only: "n": 4 generated four choices and was billed one. So the gateway sends a
non-streamed multi-output request as one backend call per output (one prompt, one choice, the
same `max_tokens`), and merges the replies: choices in OpenAI's order (prompt by prompt, `n`
each, `index` renumbered), completion tokens of every choice, prompt tokens once per prompt.
(Streamed, llama-server sends one usage event per output and `sse.StreamMeter` sums them.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from rigshift.server.openai_body import prompt_list

NOT_JSON = b'{"error": {"message": "the backend answered with a non-JSON reply"}}'


async def fetch_outputs(
    fetch_one: Callable[[bytes], Awaitable[tuple[int, bytes]]],
    body: dict[str, Any],
    endpoint: str,
    n: int,
) -> tuple[int, bytes]:
    """(status, reply) of a multi-output request, its outputs fetched concurrently by `fetch_one`
    (one body in, status and reply out). The first error status is the answer; an exception
    (the replica failed) propagates, so the caller moves the request on as for a single call."""
    results = await asyncio.gather(
        *(fetch_one(json.dumps(one).encode()) for one in split_outputs(body, endpoint, n)),
        return_exceptions=True,
    )
    answers: list[tuple[int, bytes]] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        answers.append(result)
    for status, content in answers:
        if status >= 400:
            return status, content
    replies = [parse_reply(content) for _status, content in answers]
    parsed = [reply for reply in replies if reply is not None]
    if len(parsed) < len(replies):
        return 502, NOT_JSON
    return answers[0][0], json.dumps(merge_replies(parsed, n)).encode()


def split_outputs(body: dict[str, Any], endpoint: str, n: int) -> list[dict[str, Any]]:
    """One body per output: prompt by prompt, `n` copies each, each asking for one choice."""
    prompts = prompt_list(body.get("prompt")) if endpoint == "completions" else [None]
    bodies = []
    for prompt in prompts:
        for _ in range(n):
            one = {k: v for k, v in body.items() if k != "n"}
            if endpoint == "completions":
                one["prompt"] = prompt
            bodies.append(one)
    return bodies


def merge_replies(replies: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """One OpenAI reply from the per-output replies `split_outputs` asked for (in its order)."""
    merged = dict(replies[0])
    choices: list[Any] = []
    prompt = completion = 0
    reported = True
    for i, reply in enumerate(replies):
        for choice in reply.get("choices") or []:
            choices.append({**choice, "index": len(choices)} if isinstance(choice, dict) else choice)
        usage: dict[str, Any] = reply["usage"] if isinstance(reply.get("usage"), dict) else {}
        reported = reported and isinstance(usage.get("prompt_tokens"), int)
        completion += _int(usage.get("completion_tokens"))
        if i % n == 0:  # the first output of each prompt: its prompt is billed once
            prompt += _int(usage.get("prompt_tokens"))
    merged["choices"] = choices
    merged.pop("usage", None)
    if not reported:  # a backend that does not meter: the gateway counts the merged reply
        return merged
    merged["usage"] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    return merged


def parse_reply(content: bytes) -> dict[str, Any] | None:
    """A backend's JSON reply as a dict, or None when it is not one."""
    try:
        reply = json.loads(content)
    except ValueError:
        return None
    return reply if isinstance(reply, dict) else None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
