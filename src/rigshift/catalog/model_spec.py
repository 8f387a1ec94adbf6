"""The architecture numbers the estimator needs about one model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ModelKind = Literal["chat", "embedding"]


@dataclass(frozen=True)
class ModelSpec:
    """One open model, with the numbers of its published config.json.

    For a mixture-of-experts model `ffn_size` is the size of one expert's FFN and `n_experts` /
    `n_active_experts` say how many exist and how many each token uses; `shared_ffn_size` is an
    always-active shared expert (Qwen-MoE style), 0 where there is none. `params_b` is the total
    parameter count as published (safetensors metadata) where known, else computed.
    """

    key: str  # "llama-3.1-8b"
    name: str  # "Llama 3.1 8B Instruct"
    architecture: str  # llama, qwen2, qwen3, qwen3moe, mixtral, gemma2, gemma3, phi3, bert, ...
    kind: ModelKind
    params_b: float
    n_layers: int
    hidden_size: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    ffn_size: int
    vocab_size: int
    context_length: int
    n_experts: int = 0  # 0 = dense
    n_active_experts: int = 0
    shared_ffn_size: int = 0
    tied_embeddings: bool = False
    sliding_window: int | None = None  # tokens, for layers that use sliding-window attention
    sliding_window_layers: int = 0  # how many of n_layers use it
    hf_repo: str | None = None
    source: str | None = None  # where the numbers come from (config.json URL, GGUF file)
    aliases: tuple[str, ...] = ()

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 1
