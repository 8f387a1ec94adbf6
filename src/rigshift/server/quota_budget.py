"""How many tokens a request may hold of its key's quota, and when a refused one may come back.

A request reserves its prompt plus, per output, the most it can generate: the `max_tokens` it
asked for, but never more than its context leaves after the prompt. (A request without
`max_tokens` used to hold everything left of the quota: 8 concurrent requests on a
100,000-token key, 7 refused after 65 tokens were used.) If the quota left is smaller, the
completion is capped to it (the forwarded `max_tokens` is lowered) and the reply may end early
with `finish_reason: "length"`. After the request, the reservation is settled with what it used.

Pure arithmetic: the gateway passes in the counts and the replica's context.
"""

from __future__ import annotations

from dataclasses import dataclass

# Tokens held by a key's requests in flight come back when those requests end: seconds for a
# chat reply. A client refused because of them is told to retry after this, not at the end of
# the quota period (which said 24 days on a monthly quota).
RESERVATION_RETRY_S = 2.0


@dataclass(frozen=True)
class Budget:
    completion: int  # the max_tokens forwarded, per output
    tokens: int  # what the request reserves: prompt + completion x outputs


def completion_room(context: int, exact_prompt: int | None, prompts: int) -> int:
    """The most one output can generate: the context less the prompt when that is known exactly
    (one prompt, counted by the backend's tokenizer), else the whole context."""
    if exact_prompt is not None and prompts == 1:
        return context - exact_prompt
    return context


def plan_budget(
    *, remaining: int, prompt: int, room: int, outputs: int, max_tokens: int | None
) -> Budget | None:
    """The reservation for a request, or None when the quota left cannot hold its prompt and one
    token per output. `prompt` is the prompt's tokens (exact or an upper bound)."""
    wanted = room if max_tokens is None else min(max_tokens, room)
    affordable = (remaining - prompt) // max(1, outputs)
    if affordable < 1:
        return None
    completion = max(0, min(wanted, affordable))
    return Budget(completion, prompt + completion * outputs)


def quota_wait_s(*, quota: int, used: int, need: int, period_left_s: float) -> float:
    """Seconds until `need` tokens may be reserved: soon when only reservations in flight are in
    the way (they settle when their requests end), else when the quota period ends."""
    if used + need <= quota:
        return min(RESERVATION_RETRY_S, period_left_s)
    return period_left_s


def max_tokens_problem(max_tokens: int | None, context: int) -> str | None:
    """Why `max_tokens` cannot be served on a `context`-token model, or None.

    More than the whole context can never be generated: refused with a 400, as OpenAI refuses a
    `max_tokens` beyond the model's limit (2**62 used to reach llama-server, which cut it to a
    32-bit int and replied with one token). Up to the context, it is capped to what the prompt
    leaves, as llama-server itself stops when the context is full.
    """
    if max_tokens is not None and max_tokens > context:
        return (
            f"max_tokens is too large: {max_tokens}. This model's context is {context} tokens, "
            "prompt and completion together"
        )
    return None
