"""`GET /v1/models` and `GET /v1/models/{id}`: the models a key may use, with their capabilities.

An entry has OpenAI's fields (`id`, `object`, `created`, `owned_by`) plus `capabilities` (chat,
completion, embeddings, rerank, tools, structured_output; `server/capabilities.py`). A model that
does not exist and one the key may not use answer the same 404, so a key cannot probe for the
names of models it was not given.
"""

from __future__ import annotations

from typing import Any

from rigshift.run.contracts import ReplicaDirectory
from rigshift.server.capabilities import model_capabilities
from rigshift.server.services.keys import ApiKey
from rigshift.server.stores.adapters import Adapter


def model_entry(directory: ReplicaDirectory, model: str, created: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": model, "object": "model", "created": created, "owned_by": "rigshift"}
    capabilities = model_capabilities(directory, model)
    if capabilities is not None:
        entry["capabilities"] = list(capabilities)
    return entry


def adapter_entry(adapter: Adapter) -> dict[str, Any]:
    """A tenant's adapter as its owner sees it in `/v1/models` (owned by its key, not rigshift)."""
    return {
        "id": adapter.id,
        "object": "model",
        "created": int(adapter.created_at),
        "owned_by": adapter.key_id,
    }


def list_entries(directory: ReplicaDirectory, key: ApiKey, created: int) -> list[dict[str, Any]]:
    return [model_entry(directory, m, created) for m in sorted(directory.models()) if key.allows(m)]


def retrieve_entry(
    directory: ReplicaDirectory, key: ApiKey, model: str, created: int
) -> dict[str, Any] | None:
    """The model's entry, or None (unknown, or not this key's: the same answer)."""
    if not key.allows(model) or model not in directory.models():
        return None
    return model_entry(directory, model, created)
