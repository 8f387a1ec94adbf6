"""Parameter counts per tensor group, computed from a model's architecture numbers.

Counting by group (not just the total) matters twice: quantizers keep some groups at higher
precision, and a mixture-of-experts model reads only the active experts' FFN weights per token.
Biases and norm vectors are a rounding error (< 0.1%) and are folded into the attention group.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rigshift.catalog.model_spec import ModelSpec
from rigshift.estimate.quants import QuantRecipe


@dataclass(frozen=True)
class TensorGroups:
    """Parameter counts (elements). `ffn` and `ffn_down` count all experts of an MoE model."""

    embedding: int
    output: int  # 0 when tied to the embedding (the embedding is then read as the LM head)
    attn: int  # q, k, o (+ norms, biases)
    attn_v: int
    ffn: int  # gate + up
    ffn_down: int
    router: int
    active_expert_fraction: float  # 1.0 for dense models

    @property
    def total(self) -> int:
        return self.embedding + self.output + self.attn + self.attn_v + self.ffn + self.ffn_down + self.router

    @property
    def per_layer_total(self) -> int:
        return self.attn + self.attn_v + self.ffn + self.ffn_down + self.router


@lru_cache(maxsize=4096)  # pure function of frozen specs; the estimator asks often
def tensor_groups(model: ModelSpec) -> TensorGroups:
    h, L = model.hidden_size, model.n_layers
    q_dim = model.n_heads * model.head_dim
    kv_dim = model.n_kv_heads * model.head_dim
    attn = L * (h * q_dim * 2 + h * kv_dim + 2 * h)  # q and o, k, two norm vectors
    attn_v = L * h * kv_dim
    gated = model.architecture not in {"bert", "nomic-bert", "xlm-roberta", "gpt2"}
    up_matrices = 2 if gated else 1
    experts = max(model.n_experts, 1)
    ffn = L * (up_matrices * h * model.ffn_size * experts + up_matrices * h * model.shared_ffn_size)
    ffn_down = L * (h * model.ffn_size * experts + h * model.shared_ffn_size)
    router = L * h * model.n_experts if model.is_moe else 0
    embedding = model.vocab_size * h
    output = 0 if model.tied_embeddings or model.kind == "embedding" else model.vocab_size * h
    active = model.n_active_experts / model.n_experts if model.is_moe else 1.0
    return TensorGroups(embedding, output, attn, attn_v, ffn, ffn_down, router, active)


@dataclass(frozen=True)
class WeightBytes:
    """Bytes of weights under one quantization, split by where and when they are read."""

    embedding: float  # kept in host memory by llama.cpp (the token lookup runs on the CPU)
    output: float  # LM head (the embedding itself when tied)
    layers: float  # all repeating layers, all experts
    layers_active: float  # what one token reads of the layers (active experts only)

    @property
    def total(self) -> float:
        return self.embedding + self.output + self.layers

    @property
    def on_gpu(self) -> float:
        return self.output + self.layers


@lru_cache(maxsize=4096)  # pure function of frozen specs; the estimator asks often
def weight_bytes(model: ModelSpec, recipe: QuantRecipe) -> WeightBytes:
    g = tensor_groups(model)
    expert_part = (g.ffn * recipe.ffn_bits + g.ffn_down * recipe.ffn_down_bits) / 8
    dense_part = (g.attn * recipe.attn_bits + g.attn_v * recipe.attn_v_bits + g.router * 16) / 8
    shared = model.shared_ffn_size / (model.ffn_size * max(model.n_experts, 1) + model.shared_ffn_size or 1)
    active_experts = expert_part * (shared + (1 - shared) * g.active_expert_fraction)
    embedding = g.embedding * recipe.embedding_bits / 8
    # A tied model's LM head is the embedding matrix; llama.cpp keeps a GPU copy (output bits).
    head_params = g.output if g.output else (g.embedding if model.kind == "chat" else 0)
    output = head_params * recipe.output_bits / 8
    return WeightBytes(embedding, output, dense_part + expert_part, dense_part + active_experts)


@lru_cache(maxsize=4096)  # pure function of frozen specs; the estimator asks often
def lm_head_params(model: ModelSpec) -> float:
    """The output projection's parameters (the token embedding's when tied)."""
    g = tensor_groups(model)
    return g.output or g.embedding


def active_params(model: ModelSpec) -> float:
    """Parameters one token multiplies through: dense layers, active experts and the LM head."""
    g = tensor_groups(model)
    experts = (g.ffn + g.ffn_down) * g.active_expert_fraction
    head = g.output or g.embedding
    return g.attn + g.attn_v + g.router + experts + (head if model.kind == "chat" else 0)
