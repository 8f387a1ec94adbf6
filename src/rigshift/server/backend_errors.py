"""llama-server's error texts that say nothing to an API client, mapped to ones that do.

The backend's raw text reaches the client otherwise (`errors.normalise_backend_error`); these
few are the ones seen with requests that are well-formed but ask something of the model it
cannot do. Each is the client's request against this model, so a 400 (never a retried 5xx).
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class ClearError:
    message: str
    code: str
    param: str


# (text in the backend's message, param, code, what to tell the client)
_KNOWN = (
    (
        "Failed to initialize samplers",
        "response_format",
        "grammar_unsupported",
        "this model's backend could not apply the request's output constraint (response_format, "
        "tools or grammar) to the model's vocabulary or chat template",
    ),
    (
        "does not support embeddings",
        "model",
        "model_capability_missing",
        "this model does not serve embeddings (its replicas were not started as an embedding model)",
    ),
    (
        "does not support reranking",
        "model",
        "model_capability_missing",
        "this model does not serve rerank (its replicas were not started as a reranker)",
    ),
)


def known_backend_error(status: int, body: bytes) -> ClearError | None:
    """What to answer (a 400) for a backend error in `_KNOWN`, or None."""
    if status < 400:
        return None
    try:
        parsed = json.loads(body)
        error = parsed.get("error", parsed)
        message = str(error.get("message") or "")
    except (ValueError, AttributeError):
        message = body.decode("utf-8", "replace")
    for needle, param, code, text in _KNOWN:
        if needle in message:
            return ClearError(f"{text} (the backend said: {message[:300]})", code, param)
    return None
