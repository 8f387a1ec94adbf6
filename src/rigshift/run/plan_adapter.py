"""Translate the planner's `Plan` into the data plane's `ReplicaSpec`s.

The one place that knows both shapes. Clients address a replica by its *deployment* name (the
operator's name in DEMAND.yaml, e.g. "chat-8b"), which is what `/v1/models` lists; the catalog
model and quant are the plan's business.

Model sources: a deployment's `model` that is a file path (or ends in .gguf) is used as a path;
"hf:org/repo/file.gguf" is looked up in the Hugging Face cache; "demo" or "rigshift-tiny" is the
generated tiny model; anything else is fetched from the control plane's model store as
"<model>.<quant>.gguf". `sources` overrides any of that per deployment.
"""

from __future__ import annotations

from collections.abc import Mapping

from rigshift.catalog.models import model_catalog
from rigshift.errors import UnknownNameError
from rigshift.plan.types import Plan, PlannedReplica
from rigshift.run.labels import label_value
from rigshift.run.spec import ModelSource, ReplicaSpec
from rigshift.run.tiny_gguf import DEFAULT_REPLY

DEMO_MODELS = ("demo", "rigshift-tiny")


def source_for(model: str, quant: str) -> ModelSource:
    if model in DEMO_MODELS:
        return ModelSource("demo", DEFAULT_REPLY)
    if model.startswith("hf:"):
        return ModelSource("hf", model[3:])
    if "/" in model or model.endswith(".gguf"):
        return ModelSource("path", model)
    return ModelSource("store", f"{model}.{quant}.gguf")


def is_embedding_model(model: str) -> bool:
    """The catalog says `model` is an embedding model (its replicas start with --embeddings)."""
    try:
        return model_catalog().get(model).kind == "embedding"
    except UnknownNameError:
        return False


def replica_spec(replica: PlannedReplica, source: ModelSource) -> ReplicaSpec:
    gpus = sorted(replica.gpus, key=lambda g: g.position)
    return ReplicaSpec(
        replica_id=replica.id,
        deployment=replica.deployment,
        model=replica.deployment,
        source=source,
        rig=label_value(replica.rig),
        gpu_indices=tuple(g.index if g.index is not None else g.position for g in gpus),
        gpu_models=tuple(label_value(g.model) for g in gpus),
        runtime=replica.runtime,
        context=replica.context,
        parallel=replica.parallel,
        tensor_split=tuple(replica.tensor_split or ()),
        watts=replica.power_w,
        embeddings=is_embedding_model(replica.model),
        labels={"rigshift.io/site": label_value(replica.site)},
    )


def specs_from_plan(plan: Plan, sources: Mapping[str, ModelSource] | None = None) -> list[ReplicaSpec]:
    """One spec per planned replica; `sources` maps deployment name → where its model is."""
    sources = sources or {}
    return [replica_spec(r, sources.get(r.deployment) or source_for(r.model, r.quant)) for r in plan.replicas]
