"""What a model's chat template adds to a prompt, learned from the backend's own counts.

When the gateway cannot ask the backend's tokenizer (it timed out or crashed), it bounds or
estimates a chat prompt from the request body. The message texts alone miss the template: the
tiny test model's ChatML template turns a 2-byte "hi" into 56 tokens, and a fixed 16 tokens per
message let a quota's upper bound say 18 (a 100-token quota billed 130) and a crashed stream bill
6 tokens of a ~60-token prompt.

Every reply that reports `usage.prompt_tokens` (and every tokenizer count) is a measurement of
the template on that model: tokens beyond the request's messages-and-tools JSON. The bound keeps
the largest excess seen (bytes bound tokens: every token is at least one byte of text, and the
JSON's quotes and keys cover the per-message markers); the estimate uses the latest, against a
quarter of the bytes. Until a model has been measured, a documented default applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Before any measurement: room for a system preamble like Llama 3's dated header (~30 tokens)
# plus per-message markers; a quota-limited request may be refused until the first count lands.
DEFAULT_BOUND_EXCESS = 64
DEFAULT_ESTIMATE_EXCESS = 8
SPECIAL_TOKENS = 2  # BOS/EOS the tokenizer adds that are not in the text


def chat_json_bytes(body: dict[str, Any]) -> int:
    """About the bytes of what a chat template renders from, the messages, tools and functions as
    JSON (strings unescaped, so a request is sized in microseconds, not a re-encoding's time)."""
    return sum(_json_size(body[name]) for name in ("messages", "tools", "functions") if name in body)


def _json_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode()) + 2
    if isinstance(value, list):
        return sum(_json_size(v) + 2 for v in value) + 2
    if isinstance(value, dict):
        return sum(len(str(k)) + 4 + _json_size(v) for k, v in value.items()) + 2
    return len(str(value))  # numbers, true/false/null


@dataclass
class TemplateOverhead:
    """Per model: the largest and the latest template excess measured, in tokens."""

    _largest: dict[str, int] = field(default_factory=dict)
    _latest: dict[str, int] = field(default_factory=dict)

    def observe(self, model: str, body: dict[str, Any], prompt_tokens: int) -> None:
        """A measured prompt count of a chat request on `model` (one prompt, template applied)."""
        size = chat_json_bytes(body)
        excess = max(0, prompt_tokens - size)
        self._largest[model] = max(excess, self._largest.get(model, 0))
        self._latest[model] = max(0, prompt_tokens - size // 4)

    def upper_bound(self, model: str, body: dict[str, Any]) -> int:
        """At least as many tokens as the templated chat prompt can have."""
        excess = self._largest.get(model, DEFAULT_BOUND_EXCESS)
        return chat_json_bytes(body) + excess + SPECIAL_TOKENS

    def estimate(self, model: str, body: dict[str, Any]) -> int:
        """A best guess of the templated chat prompt's tokens, for billing when nothing counted."""
        excess = self._latest.get(model, DEFAULT_ESTIMATE_EXCESS)
        return chat_json_bytes(body) // 4 + excess
