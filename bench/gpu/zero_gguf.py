"""Write a llama-architecture GGUF of a real model's shapes with all-zero weights.

Speed and memory of llama.cpp do not depend on weight values, so a zero model of Llama 3.1 8B's
shapes measures what the real one would, without downloading 5-16 GB that a closed GPU machine
cannot fetch. Weights are written as Q4_K_M (with llama.cpp's Q4_K/Q6_K tensor mix), Q8_0 or
F16; the token embedding takes the file's base type as llama-quantize would give it.

    python zero_gguf.py --spec spec.json --type Q4_K_M --out model.gguf

spec.json holds the catalog's architecture numbers (rigshift models --json gives them).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter, TokenType

# Weights per block and bytes per block (ggml-common.h). An all-zero block is valid in each:
# its scale is 0, so every weight decodes to 0.
BLOCKS = {
    GGMLQuantizationType.Q8_0: (32, 34),
    GGMLQuantizationType.Q4_K: (256, 144),
    GGMLQuantizationType.Q6_K: (256, 210),
}


def zeros(shape: tuple[int, int], ggml_type: GGMLQuantizationType) -> tuple[np.ndarray, dict]:
    rows, cols = shape
    if ggml_type == GGMLQuantizationType.F16:
        return np.zeros(shape, dtype=np.float16), {}
    per, nbytes = BLOCKS[ggml_type]
    return np.zeros((rows, cols // per * nbytes), dtype=np.uint8), {"raw_dtype": ggml_type}


def use_more_bits(layer: int, layers: int) -> bool:
    """llama.cpp's rule (src/llama-quant.cpp) for the layers whose attn_v/ffn_down get Q6_K in Q4_K_M."""
    return layer < layers // 8 or layer >= 7 * layers // 8 or (layer - layers // 8) % 3 == 2


def tensor_type(kind: str, name: str, layer: int, layers: int) -> GGMLQuantizationType:
    if kind == "F16":
        return GGMLQuantizationType.F16
    if kind == "Q8_0":
        return GGMLQuantizationType.Q8_0
    # Q4_K_M: output Q6_K; attn_v and ffn_down Q6_K on use_more_bits layers; the rest Q4_K.
    if name == "output" or (name in ("attn_v", "ffn_down") and use_more_bits(layer, layers)):
        return GGMLQuantizationType.Q6_K
    return GGMLQuantizationType.Q4_K


def write(spec: dict, kind: str, out: str) -> None:
    h, layers = spec["hidden_size"], spec["n_layers"]
    q_dim = spec["n_heads"] * spec["head_dim"]
    kv_dim = spec["n_kv_heads"] * spec["head_dim"]
    ffn, vocab = spec["ffn_size"], spec["vocab_size"]
    w = GGUFWriter(out, "llama")
    w.add_name(f"zero-{spec['key']}")
    w.add_context_length(spec["context_length"])
    w.add_embedding_length(h)
    w.add_block_count(layers)
    w.add_feed_forward_length(ffn)
    w.add_head_count(spec["n_heads"])
    w.add_head_count_kv(spec["n_kv_heads"])
    w.add_key_length(spec["head_dim"])
    w.add_value_length(spec["head_dim"])
    w.add_rope_dimension_count(spec["head_dim"])
    w.add_rope_freq_base(500000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type({"Q8_0": 7, "F16": 1, "Q4_K_M": 15}[kind])
    # A SentencePiece-style vocabulary: specials, the 256 byte tokens, then unique fillers.
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL] + [TokenType.BYTE] * 256
    tokens += [f"\u2581t{i}" for i in range(vocab - len(tokens))]
    types += [TokenType.NORMAL] * (vocab - len(types))
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * vocab)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)

    def add(name: str, shape: tuple[int, int], layer: int = 0) -> None:
        short = name.split(".")[-2] if name.startswith("blk.") else name.split(".")[0]
        data, extra = zeros(shape, tensor_type(kind, short, layer, layers))
        w.add_tensor(name, data, **extra)  # a quantized byte array: the writer derives the shape

    add("token_embd.weight", (vocab, h))
    for i in range(layers):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(h, dtype=np.float32))
        add(f"blk.{i}.attn_q.weight", (q_dim, h), i)
        add(f"blk.{i}.attn_k.weight", (kv_dim, h), i)
        add(f"blk.{i}.attn_v.weight", (kv_dim, h), i)
        add(f"blk.{i}.attn_output.weight", (h, q_dim), i)
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(h, dtype=np.float32))
        add(f"blk.{i}.ffn_gate.weight", (ffn, h), i)
        add(f"blk.{i}.ffn_up.weight", (ffn, h), i)
        add(f"blk.{i}.ffn_down.weight", (h, ffn), i)
    w.add_tensor("output_norm.weight", np.ones(h, dtype=np.float32))
    add("output.weight", (vocab, h))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spec", required=True)
    parser.add_argument("--type", choices=("Q4_K_M", "Q8_0", "F16"), default="Q4_K_M")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.spec, encoding="utf-8") as handle:
        write(json.load(handle), args.type, args.out)


if __name__ == "__main__":
    main()
