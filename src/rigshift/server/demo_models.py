"""The deployments `rigshift up --demo` serves: the tiny generated model three ways.

One generated GGUF (`run/tiny_gguf.py`) backs all three: llama-server's flags make it a chat model,
an embedding model (`--embeddings`) or a reranker (`--reranking`), so every route of the gateway
answers on a fresh clone without a download.
"""

from __future__ import annotations

from rigshift.run.spec import ModelSource, ReplicaSpec
from rigshift.run.tiny_gguf import DEFAULT_REPLY

DEMO_MODEL = "rigshift-tiny"
DEMO_EMBED_MODEL = "rigshift-tiny-embed"
DEMO_RERANK_MODEL = "rigshift-tiny-rerank"
LOCAL_RIG = "local"


def demo_specs(parallel: int = 4, context: int = 2048) -> list[ReplicaSpec]:
    """One CPU replica per demo deployment on the local rig (chat first)."""
    source = ModelSource("demo", DEFAULT_REPLY)

    def spec(
        replica_id: str, model: str, slots: int, *, embeddings: bool = False, reranking: bool = False
    ) -> ReplicaSpec:
        deployment = replica_id.rsplit("-", 1)[0]
        return ReplicaSpec(
            replica_id=replica_id,
            deployment=deployment,
            model=model,
            source=source,
            rig=LOCAL_RIG,
            runtime="llama.cpp-cpu",
            context=context,
            parallel=slots,
            embeddings=embeddings,
            reranking=reranking,
        )

    return [
        spec("demo-0", DEMO_MODEL, parallel),
        spec("demo-embed-0", DEMO_EMBED_MODEL, 2, embeddings=True),
        spec("demo-rerank-0", DEMO_RERANK_MODEL, 2, reranking=True),
    ]


def demo_models() -> list[str]:
    return [s.model for s in demo_specs()]
