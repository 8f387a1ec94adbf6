"""GGUF files of catalog model shapes with all-zero weights, in llama.cpp's quant mixes.

llama.cpp's speed and memory do not depend on weight values, so a zero model of Llama 3.2 1B's
shapes benchmarks as the real one would, without a download. Tensor types follow llama.cpp's
quantizer (src/llama-quant.cpp, llama_tensor_get_type) for the three mixes `rigshift bench` uses:

* Q4_0: every matrix Q4_0, the output head Q6_K;
* Q8_0: every matrix Q8_0 (the output head too);
* Q4_K_M: Q4_K, with attn_v and ffn_down at Q6_K on the "use_more_bits" layers, output Q6_K.

A K-quant needs rows that are a multiple of 256; llama.cpp falls back (Q4_K -> Q5_0, Q6_K -> Q8_0)
where they are not, and so does this writer. Tied-embedding models get no output tensor: llama.cpp
then multiplies by the token embedding, which the quantizer gives the output head's type.
Every shape is written as the `llama` architecture (Qwen's q/k/v biases and QK norms are
vectors, negligible next to the matrices).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rigshift.catalog.model_spec import ModelSpec
from rigshift.errors import InputError
from rigshift.gguf_files import gguf_writer

BENCH_QUANTS = ("Q4_0", "Q4_K_M", "Q8_0")

# ggml type -> (weights per block, bytes per block) (ggml-common.h). An all-zero block is valid
# in each: its scale is 0, so every weight decodes to 0.
_BLOCKS = {
    "Q4_0": (32, 18),
    "Q5_0": (32, 22),
    "Q8_0": (32, 34),
    "Q4_K": (256, 144),
    "Q6_K": (256, 210),
}
_FALLBACK = {"Q4_K": "Q5_0", "Q6_K": "Q8_0"}
_FILE_TYPE = {"Q4_0": 2, "Q8_0": 7, "Q4_K_M": 15}


def _use_more_bits(layer: int, layers: int) -> bool:
    return layer < layers // 8 or layer >= 7 * layers // 8 or (layer - layers // 8) % 3 == 2


def tensor_type(quant: str, tensor: str, layer: int, layers: int, cols: int) -> str:
    """The ggml type llama.cpp's quantizer gives `tensor` (attn_q, ffn_down, output, ...)."""
    if quant == "Q8_0":
        chosen = "Q8_0"
    elif tensor == "output":
        chosen = "Q6_K"
    elif quant == "Q4_0":
        chosen = "Q4_0"
    elif tensor in ("attn_v", "ffn_down") and _use_more_bits(layer, layers):
        chosen = "Q6_K"
    else:
        chosen = "Q4_K"
    per, _ = _BLOCKS[chosen]
    return _FALLBACK.get(chosen, chosen) if cols % per else chosen


def zero_model_path(cache_dir: Path, model: ModelSpec, quant: str) -> Path:
    return cache_dir / f"{model.key}-{quant}.gguf"


def write_zero_model(path: Path, model: ModelSpec, quant: str) -> Path:
    """Write `model`'s shapes at `quant` to `path` (atomically) unless it is already there."""
    import gguf  # heavy; only bench needs it

    if quant not in _FILE_TYPE:
        raise InputError(f"cannot write a {quant} zero model", field="quant", expected=", ".join(_FILE_TYPE))
    if model.is_moe or model.kind != "chat":
        raise InputError(
            f"{model.key}: only dense chat models can be benchmarked as zero models", field="model"
        )
    if path.is_file():
        return path
    h, layers, hd = model.hidden_size, model.n_layers, model.head_dim
    q_dim, kv_dim, ffn, vocab = model.n_heads * hd, model.n_kv_heads * hd, model.ffn_size, model.vocab_size
    with gguf_writer(path) as w:
        w.add_name(f"zero-{model.key}")
        w.add_context_length(model.context_length)
        w.add_embedding_length(h)
        w.add_block_count(layers)
        w.add_feed_forward_length(ffn)
        w.add_head_count(model.n_heads)
        w.add_head_count_kv(model.n_kv_heads)
        w.add_key_length(hd)
        w.add_value_length(hd)
        w.add_rope_dimension_count(hd)
        w.add_rope_freq_base(500000.0)
        w.add_layer_norm_rms_eps(1e-5)
        w.add_file_type(_FILE_TYPE[quant])
        tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
        types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
        types += [gguf.TokenType.BYTE] * 256
        tokens += [f"\u2581t{i}" for i in range(vocab - len(tokens))]
        types += [gguf.TokenType.NORMAL] * (vocab - len(types))
        w.add_tokenizer_model("llama")
        w.add_token_list(tokens)
        w.add_token_scores([0.0] * vocab)
        w.add_token_types(types)
        w.add_bos_token_id(1)
        w.add_eos_token_id(2)

        def add(name: str, rows: int, cols: int, ggml_type: str) -> None:
            per, nbytes = _BLOCKS[ggml_type]
            data = np.zeros((rows, cols // per * nbytes), dtype=np.uint8)
            w.add_tensor(name, data, raw_dtype=gguf.GGMLQuantizationType[ggml_type])

        embd_type = tensor_type(quant, "output" if model.tied_embeddings else "token_embd", 0, layers, h)
        add("token_embd.weight", vocab, h, embd_type)
        for i in range(layers):
            w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(h, dtype=np.float32))
            for name, rows, cols in (
                ("attn_q", q_dim, h),
                ("attn_k", kv_dim, h),
                ("attn_v", kv_dim, h),
                ("attn_output", h, q_dim),
                ("ffn_gate", ffn, h),
                ("ffn_up", ffn, h),
                ("ffn_down", h, ffn),
            ):
                add(f"blk.{i}.{name}.weight", rows, cols, tensor_type(quant, name, i, layers, cols))
            w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(h, dtype=np.float32))
        w.add_tensor("output_norm.weight", np.ones(h, dtype=np.float32))
        if not model.tied_embeddings:
            add("output.weight", vocab, h, tensor_type(quant, "output", 0, layers, h))
    return path
