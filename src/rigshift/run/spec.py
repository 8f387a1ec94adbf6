"""What the data plane is asked to run: one `ReplicaSpec` per model replica.

A spec is what the reconciler compares and what a replica actor is started with; it is a frozen
dataclass that round-trips through JSON (`to_json` / `from_json`) so the control plane can store
the desired state and the agent can log it. The planner's `Plan` is translated into specs by
`rigshift.run.plan_adapter`; nothing below this line knows the planner's types.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Runtime = Literal["llama.cpp-cuda", "llama.cpp-vulkan", "llama.cpp-rocm", "llama.cpp-cpu", "vllm"]

# Node label keys a rig's Ray node carries (set by `rigshift agent`, read by placement).
LABEL_RIG = "rigshift.io/rig"
LABEL_SITE = "rigshift.io/site"
LABEL_GPU_MODELS = "rigshift.io/gpu-models"  # comma-separated catalog keys, in GPU index order
LABEL_VRAM = "rigshift.io/vram-gib"  # comma-separated, same order
LABEL_PCIE = "rigshift.io/pcie"  # comma-separated "gen3x1", same order
LABEL_ROLE = "rigshift.io/role"  # "head" on the control node


@dataclass(frozen=True)
class ModelSource:
    """Where a replica's weights come from; the rig's model cache turns this into a local path.

    kind: "path" (a file already on the rig or a shared mount), "store" (the control plane's model
    store, fetched over HTTP by `name`), "hf" (a file inside the Hugging Face cache directory:
    `uri` = "repo_id/filename"), "demo" (the tiny generated model; `uri` is its reply text).
    """

    kind: Literal["path", "store", "hf", "demo"]
    uri: str
    sha256: str | None = None  # when known, the cache verifies and keys by it


@dataclass(frozen=True)
class AdapterRef:
    """A LoRA adapter a replica loads (`--lora`), by the model id clients send for it."""

    model: str  # "ft:BASE:TENANT::ID"
    source: ModelSource


@dataclass(frozen=True)
class ReplicaSpec:
    replica_id: str  # stable across restarts and moves: "<deployment>-<n>"
    deployment: str
    model: str  # the name clients send in "model"
    source: ModelSource
    rig: str
    gpu_indices: tuple[int, ...] = ()  # empty: CPU
    gpu_models: tuple[str, ...] = ()  # catalog keys, same order (re-placement matches on them)
    runtime: str = "llama.cpp-cpu"
    context: int = 4096  # tokens per sequence (slot)
    parallel: int = 1  # slots
    tensor_split: tuple[float, ...] = ()  # fraction per GPU, same order as gpu_indices
    watts: float | None = None
    embeddings: bool = False  # also serve /v1/embeddings (llama-server --embeddings --pooling mean)
    reranking: bool = False  # serve /v1/rerank (llama-server --reranking --pooling rank)
    extra_args: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    # LoRA adapters of this base, in llama-server's adapter id order (run/adapter_placement.py)
    adapters: tuple[AdapterRef, ...] = ()

    def fingerprint(self) -> str:
        """Hash of everything that needs a backend restart when it changes (not the id)."""
        data = to_dict(self)
        data.pop("replica_id")
        data.pop("labels")
        if not data["reranking"]:
            data.pop("reranking")  # added later: specs without it keep their fingerprint (no restart)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def to_dict(spec: ReplicaSpec) -> dict[str, Any]:
    data = dataclasses.asdict(spec)
    if not spec.adapters:
        # Omitted when empty: a replica without adapters keeps the fingerprint it had before
        # specs could carry them (no restart on upgrade), and plans stay in their old shape.
        del data["adapters"]
    return data


def from_dict(data: dict[str, Any]) -> ReplicaSpec:
    values = dict(data)
    values["source"] = ModelSource(**values["source"])
    if "adapters" in values:
        values["adapters"] = tuple(
            AdapterRef(a["model"], ModelSource(**a["source"])) for a in values["adapters"]
        )
    for key in ("gpu_indices", "gpu_models", "tensor_split", "extra_args"):
        if key in values:
            values[key] = tuple(values[key])
    return ReplicaSpec(**values)


def to_json(specs: list[ReplicaSpec]) -> str:
    return json.dumps([to_dict(s) for s in specs], indent=2, sort_keys=True)


def from_json(text: str) -> list[ReplicaSpec]:
    return [from_dict(d) for d in json.loads(text)]
