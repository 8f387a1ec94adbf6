"""Quantization formats: how many bits each weight tensor takes, and which math the kernels use.

GGUF block sizes are llama.cpp's (ggml/src/ggml-common.h: bytes per block of 32 or 256 weights,
scales included). A GGUF "file type" such as Q4_K_M is a *mix*: llama.cpp's quantizer
(src/llama-quant.cpp, llama_tensor_get_type) keeps some tensors at higher precision — the output
projection at Q6_K, attn_v and ffn_down at a larger type on half of the layers ("use_more_bits":
the first and last eighth and every third layer between) — which is why Q4_K_M averages about
4.9 bits per weight, not 4.5. The recipes below encode those rules per tensor group.

GPTQ/AWQ store 4 or 8-bit integers with an FP16 scale (and zero point) per group of 128 weights,
and keep embeddings and the LM head in FP16. FP8 (vLLM) stores linear layers in 8 bits with
per-tensor or per-channel scales, embeddings and LM head in BF16.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rigshift.suggest import unknown_choice

# Bits per weight of each ggml tensor type, scales included (bytes per block × 8 / block size).
GGML_TYPE_BITS: dict[str, float] = {
    "F32": 32.0,
    "F16": 16.0,
    "BF16": 16.0,
    "Q8_0": 8.5,  # 34 bytes / 32
    "Q6_K": 6.5625,  # 210 / 256
    "Q5_1": 6.0,
    "Q5_0": 5.5,
    "Q5_K": 5.5,  # 176 / 256
    "Q4_1": 5.0,
    "Q4_0": 4.5,  # 18 / 32
    "Q4_K": 4.5,  # 144 / 256
    "IQ4_NL": 4.5,
    "MXFP4": 4.25,  # 17 / 32
    "IQ4_XS": 4.25,  # 136 / 256
    "Q3_K": 3.4375,  # 110 / 256
    "IQ3_S": 3.4375,
    "IQ3_XXS": 3.0625,
    "Q2_K": 2.625,  # 84 / 256
    "IQ2_S": 2.5,
    "IQ2_XS": 2.3125,
    "IQ2_XXS": 2.0625,
    "IQ1_M": 1.75,
    "IQ1_S": 1.5625,
}

QuantFamily = Literal["gguf", "gptq", "awq", "fp8", "float"]
MatmulPath = Literal["int8", "fp16", "fp8", "fp32"]


@dataclass(frozen=True)
class QuantRecipe:
    """Bits per weight for each tensor group of a transformer under one quantization.

    `attn_v_bits` and `ffn_down_bits` are averages over layers (some layers get more bits).
    `matmul` is the arithmetic the runtime's prompt-processing kernels use on these weights.
    """

    name: str
    family: QuantFamily
    attn_bits: float  # q, k, o projections
    attn_v_bits: float
    ffn_bits: float  # gate, up (and every expert's)
    ffn_down_bits: float
    embedding_bits: float
    output_bits: float
    matmul: MatmulPath


def _mix(low: str, high: str, high_fraction: float) -> float:
    return GGML_TYPE_BITS[low] * (1 - high_fraction) + GGML_TYPE_BITS[high] * high_fraction


_HALF = 0.5  # use_more_bits(): 1/8 + 1/8 + (6/8)/3 of the layers
_B = GGML_TYPE_BITS


def _gguf(
    name: str,
    base: str,
    v: float,
    down: float,
    output: str = "Q6_K",
    embd: str | None = None,
    o: str | None = None,
) -> QuantRecipe:
    return QuantRecipe(
        name=name,
        family="gguf",
        attn_bits=(2 * _B[base] + _B[o or base]) / 3,
        attn_v_bits=v,
        ffn_bits=_B[base],
        ffn_down_bits=down,
        embedding_bits=_B[embd or base],
        output_bits=_B[output],
        matmul="int8",
    )


def _uniform(
    name: str, family: QuantFamily, bits: float, keep_bits: float, matmul: MatmulPath
) -> QuantRecipe:
    return QuantRecipe(name, family, bits, bits, bits, bits, keep_bits, keep_bits, matmul)


# llama_tensor_get_type rules, per file type (GQA models, n_gqa >= 4, as all modern ones are).
RECIPES: dict[str, QuantRecipe] = {
    r.name: r
    for r in (
        _gguf("Q2_K", "Q2_K", v=_B["Q4_K"], down=_B["Q3_K"], o="Q3_K", embd="Q2_K"),
        _gguf("Q2_K_S", "Q2_K", v=_B["Q4_K"], down=_B["Q2_K"], embd="Q2_K"),
        _gguf("Q3_K_S", "Q3_K", v=_B["Q3_K"], down=_B["Q3_K"]),
        _gguf("Q3_K_M", "Q3_K", v=_mix("Q4_K", "Q5_K", 2 / 32), down=_mix("Q4_K", "Q5_K", 1 / 16), o="Q4_K"),
        _gguf("Q3_K_L", "Q3_K", v=_B["Q5_K"], down=_B["Q5_K"], o="Q5_K"),
        _gguf("Q4_0", "Q4_0", v=_B["Q4_0"], down=_B["Q4_0"]),
        _gguf("Q4_1", "Q4_1", v=_B["Q4_1"], down=_B["Q4_1"]),
        _gguf("Q4_K_S", "Q4_K", v=_mix("Q4_K", "Q5_K", 1 / 8), down=_mix("Q4_K", "Q5_K", 1 / 8)),
        _gguf("Q4_K_M", "Q4_K", v=_mix("Q4_K", "Q6_K", _HALF), down=_mix("Q4_K", "Q6_K", _HALF)),
        _gguf("Q5_0", "Q5_0", v=_B["Q5_0"], down=_B["Q5_0"]),
        _gguf("Q5_1", "Q5_1", v=_B["Q5_1"], down=_B["Q5_1"]),
        _gguf("Q5_K_S", "Q5_K", v=_B["Q5_K"], down=_B["Q5_K"]),
        _gguf("Q5_K_M", "Q5_K", v=_mix("Q5_K", "Q6_K", _HALF), down=_mix("Q5_K", "Q6_K", _HALF)),
        _gguf("Q6_K", "Q6_K", v=_B["Q6_K"], down=_B["Q6_K"]),
        _gguf("Q8_0", "Q8_0", v=_B["Q8_0"], down=_B["Q8_0"], output="Q8_0"),
        _gguf("IQ1_S", "IQ1_S", v=_B["Q4_K"], down=_B["IQ2_XXS"], output="Q5_K", embd="Q2_K"),
        _gguf("IQ1_M", "IQ1_M", v=_B["Q4_K"], down=_B["IQ2_XXS"], output="Q5_K", embd="Q2_K"),
        _gguf("IQ2_XXS", "IQ2_XXS", v=_B["Q4_K"], down=_B["IQ2_XXS"], output="Q5_K", embd="Q2_K"),
        _gguf("IQ2_XS", "IQ2_XS", v=_B["Q4_K"], down=_B["IQ2_XS"], output="Q5_K", embd="Q2_K"),
        _gguf("IQ2_S", "IQ2_S", v=_B["Q4_K"], down=_B["IQ2_S"], output="Q5_K", embd="Q2_K"),
        _gguf("IQ2_M", "IQ2_S", v=_B["Q4_K"], down=_B["IQ3_S"], output="Q5_K", embd="Q2_K"),
        _gguf("IQ3_XXS", "IQ3_XXS", v=_B["IQ3_S"], down=_B["IQ3_S"], output="Q5_K", embd="Q3_K"),
        _gguf("IQ3_XS", "IQ3_XXS", v=_B["Q4_K"], down=_B["IQ3_S"], output="Q6_K", embd="Q3_K"),
        _gguf("IQ3_S", "IQ3_S", v=_B["Q4_K"], down=_B["IQ3_S"], embd="Q3_K"),
        _gguf("IQ3_M", "IQ3_S", v=_B["Q4_K"], down=_B["Q4_K"], embd="Q3_K"),
        _gguf("IQ4_XS", "IQ4_XS", v=_B["IQ4_XS"], down=_B["IQ4_XS"]),
        _gguf("IQ4_NL", "IQ4_NL", v=_B["IQ4_NL"], down=_B["IQ4_NL"]),
        _gguf("MXFP4", "MXFP4", v=_B["Q8_0"], down=_B["MXFP4"], output="Q8_0", embd="Q8_0"),
        _uniform("F16", "float", 16.0, 16.0, "fp16"),
        _uniform("BF16", "float", 16.0, 16.0, "fp16"),
        _uniform("F32", "float", 32.0, 32.0, "fp32"),
        # 4-bit integers + FP16 scale and zero per 128 weights: 4 + 32/128 = 4.25 bits.
        _uniform("GPTQ-Int4", "gptq", 4.25, 16.0, "fp16"),
        _uniform("GPTQ-Int8", "gptq", 8.25, 16.0, "fp16"),
        _uniform("AWQ", "awq", 4.25, 16.0, "fp16"),
        _uniform("FP8", "fp8", 8.0, 16.0, "fp8"),
    )
}

QUANT_ALIASES = {
    "AWQ-INT4": "AWQ",
    "GPTQ": "GPTQ-Int4",
    "INT4": "GPTQ-Int4",
    "INT8": "GPTQ-Int8",
    "Q8": "Q8_0",
}

# KV-cache element types: bytes per element (q8_0/q4_0 blocks of 32 with an FP16 scale).
KV_TYPE_BYTES: dict[str, float] = {
    "f32": 4.0,
    "f16": 2.0,
    "bf16": 2.0,
    "q8_0": 34 / 32,
    "q5_0": 22 / 32,
    "q4_0": 18 / 32,
}


def quant_recipe(name: str) -> QuantRecipe:
    key = name.strip().upper().replace("-", "_")
    for candidate in (name.strip(), key, key.replace("_", "-"), QUANT_ALIASES.get(key, "")):
        if candidate in RECIPES:
            return RECIPES[candidate]
    for known in RECIPES:
        if known.upper().replace("-", "_") == key:
            return RECIPES[known]
    raise unknown_choice("quant", name, RECIPES, "quantization")


def kv_bytes_per_element(kv_type: str) -> float:
    try:
        return KV_TYPE_BYTES[kv_type.lower()]
    except KeyError:
        raise unknown_choice("kv_type", kv_type, KV_TYPE_BYTES, "KV-cache type") from None
