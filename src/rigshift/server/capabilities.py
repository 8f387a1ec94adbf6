"""Which capability a request needs, and the 400 that names it when the model lacks it.

A deployment's capabilities come from the data plane (`run/capabilities.py`, from its spec: a
chat model, an embedding model or a reranker). The gateway checks them before it reserves
quota or forwards anything, so asking an embedding model to chat, or the demo chat model for
embeddings, is the client's mistake (400 `model_capability_missing`, naming the capability),
never the backend's 501 turned into a 5xx that clients retry.
"""

from __future__ import annotations

from typing import Any

from rigshift.run.capabilities import ALL_CAPABILITIES
from rigshift.run.contracts import ReplicaDirectory
from rigshift.server.errors import BadRequest

# The capability each gateway endpoint is, and the request field a refusal points at.
ENDPOINT_CAPABILITY = {
    "chat": ("chat", "messages"),
    "messages": ("chat", "messages"),
    "completions": ("completion", "prompt"),
    "embeddings": ("embeddings", "input"),
    "rerank": ("rerank", "query"),
}
_STRUCTURED_TYPES = ("json_object", "json_schema")
_IMAGE_PARTS = ("image_url", "input_image", "image")


def model_capabilities(directory: ReplicaDirectory, model: str) -> tuple[str, ...] | None:
    """The capabilities `model`'s replicas declare (every state, so a model still starting has
    them), in `ALL_CAPABILITIES` order; None for a model the directory does not have or whose
    replicas declare none (a directory from before capabilities: nothing is refused)."""
    replicas = directory.ready_replicas(model)  # the gateway's hot path: an index lookup
    if not replicas:
        if model not in directory.models():
            return None
        every = getattr(directory, "replicas", None)  # the real directories list every state
        replicas = [r for r in every() if r.model == model] if callable(every) else []
    have = {c for r in replicas for c in r.capabilities}
    return tuple(c for c in ALL_CAPABILITIES if c in have) if have else None


def needed_capabilities(endpoint: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    """(capability, field) pairs the request needs: its endpoint's, then tools, structured
    output and images where the body asks for them."""
    needed = [ENDPOINT_CAPABILITY[endpoint]]
    if body.get("tools") or body.get("functions"):
        needed.append(("tools", "tools" if body.get("tools") else "functions"))
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") in _STRUCTURED_TYPES:
        needed.append(("structured_output", "response_format"))
    for field in ("json_schema", "grammar"):
        if body.get(field):
            needed.append(("structured_output", field))
    if _has_image(body.get("messages")):
        needed.append(("vision", "messages"))
    return needed


def capability_problem(
    endpoint: str, body: dict[str, Any], model: str, have: tuple[str, ...]
) -> BadRequest | None:
    """The refusal for the first capability the request needs that `model` lacks, or None."""
    for capability, field in needed_capabilities(endpoint, body):
        if capability not in have:
            return BadRequest(
                f"the model {model!r} does not support {capability} "
                f"(it supports: {', '.join(have) or 'nothing'})",
                param=field,
                code="model_capability_missing",
            )
    return None


def _has_image(messages: Any) -> bool:
    if not isinstance(messages, list):
        return False
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(
            isinstance(part, dict) and part.get("type") in _IMAGE_PARTS for part in content
        ):
            return True
    return False


def capability_refusal(
    directory: ReplicaDirectory, endpoint: str, body: dict[str, Any], model: str
) -> BadRequest | None:
    """The 400 for a request `model`'s deployment cannot serve, or None (also for a model the
    directory does not know: routing answers that one with its 404)."""
    have = model_capabilities(directory, model)
    return None if have is None else capability_problem(endpoint, body, model, have)
