"""Requests for a tenant's adapter: who may use which, and the `lora` list each backend gets.

A tenant names its adapter by model id (`ft:BASE:TENANT::ID`); the gateway routes it to a ready
replica of BASE that loads the adapter and adds llama-server's per-request `lora` field with that
adapter alone at scale 1 (llama.cpp applies alpha/r itself; adapters not listed run at 0). Every
request to a replica with adapters carries an explicit list, a base request `[{id 0, scale 0}]`:
this llama-server applies its start-up scales (1 for each `--lora`) to a request without one. A
client's own `lora` field is always replaced, so no tenant can switch on another's adapter.

Another tenant's adapter answers exactly like an unknown model (404), so ids leak nothing.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from typing import Any

from rigshift.run.adapter_placement import ADAPTERS_LABEL
from rigshift.run.contracts import ReplicaEndpoint
from rigshift.server.stores.adapters import Adapter
from rigshift.server.stores.keys import ApiKey

FINE_TUNED_PREFIX = "ft:"


class AdapterRouting:
    """The adapters the gateway knows, by model id (refreshed after each upload or delete)."""

    def __init__(self, load: Callable[[], list[Adapter]]):
        self._load = load
        self._by_id: dict[str, Adapter] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        adapters = {a.id: a for a in self._load()}
        with self._lock:
            self._by_id = adapters

    def for_key(self, key: ApiKey, model: str) -> Adapter | None:
        """The key's own adapter called `model`, else None (unknown, or another tenant's)."""
        adapter = self._by_id.get(model) if model.startswith(FINE_TUNED_PREFIX) else None
        return adapter if adapter is not None and adapter.key_id == key.id else None

    def owned(self, key: ApiKey) -> list[Adapter]:
        return [a for a in self._by_id.values() if a.key_id == key.id]


def replica_adapters(replica: ReplicaEndpoint) -> dict[str, int]:
    """The replica's adapters and their llama-server ids (empty: it loads none)."""
    label = replica.labels.get(ADAPTERS_LABEL)
    return _adapter_ids(label) if label else {}


@functools.lru_cache(maxsize=256)
def _adapter_ids(label: str) -> dict[str, int]:
    # Parsed once per distinct list, not per request (the label is a replica's whole list).
    return {model: index for index, model in enumerate(json.loads(label))}


def with_lora(
    body: dict[str, Any], raw: bytes, replica: ReplicaEndpoint, adapter: str | None
) -> bytes | None:
    """The bytes to send `replica`: `raw` with the `lora` list for `adapter` (None: the base), or
    None when the replica does not load that adapter. Sets `body["lora"]` to match (fan-out
    requests are rebuilt from the body)."""
    loaded = replica_adapters(replica)
    if adapter is not None and adapter not in loaded:
        return None
    had_lora = "lora" in body
    if not loaded:
        if not had_lora:
            return raw  # the common case: nothing to add, nothing to strip
        body.pop("lora")
        return json.dumps(body).encode()
    lora = [{"id": loaded[adapter], "scale": 1.0}] if adapter is not None else [{"id": 0, "scale": 0.0}]
    body["lora"] = lora
    stripped = raw.rstrip()
    if had_lora or not stripped.endswith(b"}") or len(body) == 1:
        return json.dumps(body).encode()
    # Append the field to the client's own bytes rather than re-encode a possibly large body.
    return stripped[:-1] + b',"lora":' + json.dumps(lora).encode() + b"}"
