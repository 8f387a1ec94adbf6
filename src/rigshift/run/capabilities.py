"""What a replica can be asked to do, from its spec: the data plane's half of `/v1/models`.

A deployment is one of three kinds, decided by how its backend is started (`backends.py`):
a chat model (chat and completions, tools and structured outputs through llama.cpp's grammar
sampler), an embedding model (`--embeddings`) or a reranker (`--reranking --pooling rank`).
Vision is never offered: no replica is started with a multimodal projector.
"""

from __future__ import annotations

from rigshift.run.spec import ReplicaSpec

ALL_CAPABILITIES = ("chat", "completion", "embeddings", "rerank", "tools", "structured_output", "vision")
CHAT_CAPABILITIES = ("chat", "completion", "tools", "structured_output")


def spec_capabilities(spec: ReplicaSpec) -> tuple[str, ...]:
    """The capabilities a replica started from `spec` has."""
    if spec.embeddings:  # the order backends.py reads the flags in
        return ("embeddings",)
    if spec.reranking:
        return ("rerank",)
    return CHAT_CAPABILITIES
