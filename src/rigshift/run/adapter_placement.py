"""Which LoRA adapters each replica loads, and how the gateway learns their llama-server ids.

Placement is deliberately minimal: every replica of a base model loads every adapter of that
base (a LoRA of a small model is a few MB; llama-server keeps them all resident and applies one
per request). The limit: a base with more adapters than a card's spare VRAM holds needs a
placement that splits them across replicas, which this does not do.

A change of a replica's adapter list changes its spec fingerprint, so the reconciler replaces it
the way it replaces any changed replica: drained first (the gateway sends it nothing new and the
manager waits for its in-flight requests), then restarted with the new `--lora` list.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence

from rigshift.run.spec import AdapterRef, ReplicaSpec

# The replica label listing its adapters' model ids, in llama-server adapter id order (JSON).
ADAPTERS_LABEL = "adapters"


def place_adapters(
    specs: Sequence[ReplicaSpec], adapters: Iterable[tuple[str, AdapterRef]]
) -> list[ReplicaSpec]:
    """`specs` with each replica's adapters set to every (base model, adapter) of its model, in
    the given order (oldest first keeps existing ids stable as adapters are added)."""
    by_base: dict[str, list[AdapterRef]] = {}
    for base, ref in adapters:
        by_base.setdefault(base, []).append(ref)
    return [dataclasses.replace(s, adapters=tuple(by_base.get(s.model, ()))) for s in specs]


def adapter_label(spec: ReplicaSpec) -> dict[str, str]:
    """The endpoint label that tells the gateway the replica's adapter ids (none: no label)."""
    return {ADAPTERS_LABEL: json.dumps([a.model for a in spec.adapters])} if spec.adapters else {}
