"""Reading a model from its own files: a GGUF header, a config.json, a safetensors header."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest

from rigshift.catalog.model_files import parameter_count_from_architecture, read_gguf, read_hf_config
from rigshift.catalog.models import load_model, model_catalog
from rigshift.errors import InputError

HIDDEN, HEADS, KV_HEADS, FFN, VOCAB, LAYERS, CONTEXT = 64, 4, 2, 128, 100, 2, 256
Q8 = gguf.GGMLQuantizationType.Q8_0


def write_tiny_gguf(
    path: Path, *, arch: str = "llama", with_output: bool = True, extra: dict[str, Any] | None = None
) -> int:
    """A 2-layer model with F16 embeddings, F32 norms and Q8_0 matrices; returns its weight count."""
    rng = np.random.default_rng(0)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("Tiny Test Llama")
    writer.add_block_count(LAYERS)
    writer.add_embedding_length(HIDDEN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_feed_forward_length(FFN)
    writer.add_context_length(CONTEXT)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_token_list([f"t{i}" for i in range(VOCAB)])
    for name, value in (extra or {}).items():
        writer.add_uint32(name, value)
    elements = 0

    def tensor(
        name: str, rows: int, cols: int | None = None, qtype: gguf.GGMLQuantizationType | None = None
    ) -> None:
        nonlocal elements
        shape = (rows,) if cols is None else (rows, cols)
        data = rng.standard_normal(shape).astype(np.float32)
        elements += data.size
        if qtype is None:
            writer.add_tensor(name, data if cols is None else data.astype(np.float16))
        else:
            writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)

    tensor("token_embd.weight", VOCAB, HIDDEN)
    for layer in range(LAYERS):
        tensor(f"blk.{layer}.attn_norm.weight", HIDDEN)
        tensor(f"blk.{layer}.attn_q.weight", HIDDEN, HIDDEN, Q8)
        tensor(f"blk.{layer}.attn_k.weight", KV_HEADS * HIDDEN // HEADS, HIDDEN, Q8)
        tensor(f"blk.{layer}.attn_v.weight", KV_HEADS * HIDDEN // HEADS, HIDDEN, Q8)
        tensor(f"blk.{layer}.attn_output.weight", HIDDEN, HIDDEN, Q8)
        tensor(f"blk.{layer}.ffn_norm.weight", HIDDEN)
        tensor(f"blk.{layer}.ffn_gate.weight", FFN, HIDDEN, Q8)
        tensor(f"blk.{layer}.ffn_up.weight", FFN, HIDDEN, Q8)
        tensor(f"blk.{layer}.ffn_down.weight", HIDDEN, FFN, Q8)
    tensor("output_norm.weight", HIDDEN)
    if with_output:
        tensor("output.weight", VOCAB, HIDDEN)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return elements


# --- GGUF -----------------------------------------------------------------------------------


def test_gguf_header_gives_architecture_and_exact_parameter_count(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    elements = write_tiny_gguf(path)
    info = read_gguf(path)
    spec = info.model
    assert (spec.architecture, spec.kind, spec.name) == ("llama", "chat", "Tiny Test Llama")
    assert (spec.n_layers, spec.hidden_size, spec.n_heads, spec.n_kv_heads) == (
        LAYERS,
        HIDDEN,
        HEADS,
        KV_HEADS,
    )
    assert (spec.head_dim, spec.ffn_size, spec.vocab_size, spec.context_length) == (16, FFN, VOCAB, CONTEXT)
    assert round(spec.params_b * 1e9) == elements
    assert not spec.tied_embeddings and not spec.is_moe and spec.sliding_window is None
    assert spec.source == str(path)


def test_gguf_reports_real_weight_bytes_per_type(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    elements = write_tiny_gguf(path)
    info = read_gguf(path)
    norms = (2 * LAYERS + 1) * HIDDEN
    assert info.tensor_types == {
        "F16": 2 * VOCAB * HIDDEN,
        "F32": norms,
        "Q8_0": elements - 2 * VOCAB * HIDDEN - norms,
    }
    q8_bytes = info.tensor_types["Q8_0"] // 32 * 34  # 32 weights per 34-byte block
    assert info.tensor_bytes == 2 * (2 * VOCAB * HIDDEN) + 4 * norms + q8_bytes
    assert info.token_embd_bytes == info.output_bytes == 2 * VOCAB * HIDDEN
    assert info.quant_label == "Q8_0"
    assert info.tensor_bytes < info.file_bytes == path.stat().st_size


def test_gguf_without_output_tensor_is_tied_and_takes_vocab_from_embeddings(tmp_path: Path) -> None:
    path = tmp_path / "tied.gguf"
    write_tiny_gguf(path, with_output=False)
    info = read_gguf(path)
    assert info.model.tied_embeddings and info.output_bytes == 0
    assert info.model.vocab_size == VOCAB


def test_gguf_sliding_window_and_experts_come_from_metadata(tmp_path: Path) -> None:
    path = tmp_path / "gemma.gguf"
    write_tiny_gguf(path, arch="gemma2", extra={"gemma2.attention.sliding_window": 64})
    spec = read_gguf(path).model
    assert (spec.architecture, spec.sliding_window, spec.sliding_window_layers) == ("gemma2", 64, 1)

    moe_path = tmp_path / "moe.gguf"
    write_tiny_gguf(moe_path, extra={"llama.expert_count": 8, "llama.expert_used_count": 2})
    moe = read_gguf(moe_path).model
    assert (moe.n_experts, moe.n_active_experts, moe.is_moe) == (8, 2, True)


def test_load_model_reads_a_gguf_path(tmp_path: Path) -> None:
    path = tmp_path / "my-finetune.gguf"
    write_tiny_gguf(path)
    assert load_model(str(path)).n_layers == LAYERS


@pytest.mark.parametrize("keep", [0, 3, 10, 24, 60, 200, 0.5])
def test_truncated_gguf_is_an_input_error_naming_the_file(tmp_path: Path, keep: float) -> None:
    whole = tmp_path / "whole.gguf"
    write_tiny_gguf(whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(InputError) as caught:
        read_gguf(cut)
    assert str(cut) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_garbage_and_missing_files_are_input_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "model.gguf"
    garbage.write_bytes(b"PK\x03\x04 this is a zip, not a model" * 10)
    with pytest.raises(InputError, match="not a GGUF file") as caught:
        read_gguf(garbage)
    assert str(garbage) in str(caught.value)
    with pytest.raises(InputError, match="file not found"):
        read_gguf(tmp_path / "absent.gguf")


# --- config.json ----------------------------------------------------------------------------


LLAMA_31_8B = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "max_position_embeddings": 131072,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "rope_scaling": {"factor": 8.0, "rope_type": "llama3"},
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "vocab_size": 128256,
}
QWEN3_30B_A3B = {
    "architectures": ["Qwen3MoeForCausalLM"],
    "model_type": "qwen3_moe",
    "head_dim": 128,
    "hidden_size": 2048,
    "intermediate_size": 6144,
    "max_position_embeddings": 40960,
    "moe_intermediate_size": 768,
    "num_attention_heads": 32,
    "num_experts": 128,
    "num_experts_per_tok": 8,
    "num_hidden_layers": 48,
    "num_key_value_heads": 4,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "use_sliding_window": False,
    "vocab_size": 151936,
}


def write_config(folder: Path, config: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    return path


ARCHITECTURE_FIELDS = (
    "architecture",
    "n_layers",
    "hidden_size",
    "n_heads",
    "n_kv_heads",
    "head_dim",
    "ffn_size",
    "vocab_size",
    "context_length",
    "n_experts",
    "n_active_experts",
    "tied_embeddings",
    "sliding_window",
    "sliding_window_layers",
)


@pytest.mark.parametrize(("config", "key"), [(LLAMA_31_8B, "llama-3.1-8b"), (QWEN3_30B_A3B, "qwen3-30b-a3b")])
def test_config_json_round_trips_to_the_catalog_numbers(
    tmp_path: Path, config: dict[str, Any], key: str
) -> None:
    spec = read_hf_config(write_config(tmp_path / key, config))
    expected = model_catalog().get(key)
    assert {f: getattr(spec, f) for f in ARCHITECTURE_FIELDS} == {
        f: getattr(expected, f) for f in ARCHITECTURE_FIELDS
    }
    assert spec.params_b == pytest.approx(expected.params_b, rel=0.002)  # computed: no weights beside it


def test_safetensors_index_total_size_gives_the_parameter_count(tmp_path: Path) -> None:
    folder = tmp_path / "Llama-3.1-8B-Instruct"
    write_config(folder, LLAMA_31_8B)
    index = {"metadata": {"total_size": 16_060_522_496}, "weight_map": {}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    spec = load_model(str(folder))
    assert round(spec.params_b * 1e9) == 8_030_261_248
    assert spec.key == "llama-3.1-8b-instruct"


def test_safetensors_header_shapes_give_the_parameter_count(tmp_path: Path) -> None:
    folder = tmp_path / "custom"
    write_config(folder, LLAMA_31_8B)
    header = json.dumps(
        {
            "__metadata__": {"format": "pt"},
            "a": {"dtype": "BF16", "shape": [3, 4], "data_offsets": [0, 24]},
            "b": {"dtype": "BF16", "shape": [5], "data_offsets": [24, 34]},
        }
    ).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(34))
    assert round(read_hf_config(folder / "config.json").params_b * 1e9) == 17


def test_corrupt_safetensors_header_is_an_input_error(tmp_path: Path) -> None:
    folder = tmp_path / "custom"
    write_config(folder, LLAMA_31_8B)
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", 10**12) + b"{}")
    with pytest.raises(InputError, match="safetensors"):
        read_hf_config(folder)


def test_gemma3_nested_text_config_and_its_layer_pattern(tmp_path: Path) -> None:
    config = {
        "architectures": ["Gemma3ForConditionalGeneration"],
        "model_type": "gemma3",
        "text_config": {
            "model_type": "gemma3_text",
            "head_dim": 256,
            "hidden_size": 3840,
            "intermediate_size": 15360,
            "max_position_embeddings": 131072,
            "num_attention_heads": 16,
            "num_hidden_layers": 48,
            "num_key_value_heads": 8,
            "sliding_window": 1024,
            "sliding_window_pattern": 6,
            "vocab_size": 262208,
        },
        "vision_config": {"hidden_size": 1152, "num_hidden_layers": 27},
    }
    spec = read_hf_config(write_config(tmp_path / "gemma-3-12b-it", config))
    expected = model_catalog().get("gemma-3-12b")
    assert {f: getattr(spec, f) for f in ARCHITECTURE_FIELDS} == {
        f: getattr(expected, f) for f in ARCHITECTURE_FIELDS
    }


def test_mixtral_and_phi3_and_bert_configs(tmp_path: Path) -> None:
    mixtral = read_hf_config(
        write_config(
            tmp_path / "mixtral",
            {
                "model_type": "mixtral",
                "hidden_size": 4096,
                "intermediate_size": 14336,
                "max_position_embeddings": 32768,
                "num_attention_heads": 32,
                "num_hidden_layers": 32,
                "num_key_value_heads": 8,
                "num_local_experts": 8,
                "num_experts_per_tok": 2,
                "sliding_window": None,
                "vocab_size": 32000,
            },
        )
    )
    assert (mixtral.architecture, mixtral.n_experts, mixtral.n_active_experts, mixtral.ffn_size) == (
        "mixtral",
        8,
        2,
        14336,
    )
    assert mixtral.params_b == pytest.approx(46.7, abs=0.05)

    phi3 = read_hf_config(
        write_config(
            tmp_path / "phi3",
            {
                "model_type": "phi3",
                "hidden_size": 3072,
                "intermediate_size": 8192,
                "max_position_embeddings": 4096,
                "num_attention_heads": 32,
                "num_hidden_layers": 32,
                "num_key_value_heads": 32,
                "sliding_window": 2047,
                "tie_word_embeddings": False,
                "vocab_size": 32064,
            },
        )
    )
    assert (phi3.sliding_window, phi3.sliding_window_layers, phi3.head_dim) == (2047, 32, 96)

    bge = read_hf_config(
        write_config(
            tmp_path / "bge",
            {
                "architectures": ["BertModel"],
                "model_type": "bert",
                "hidden_size": 384,
                "intermediate_size": 1536,
                "max_position_embeddings": 512,
                "num_attention_heads": 12,
                "num_hidden_layers": 12,
                "vocab_size": 30522,
            },
        )
    )
    assert (bge.kind, bge.architecture, bge.n_kv_heads, bge.head_dim) == ("embedding", "bert", 12, 32)
    assert bge.params_b == pytest.approx(0.0334, rel=0.01)


def test_qwen_window_that_is_switched_off_is_ignored(tmp_path: Path) -> None:
    config = dict(QWEN3_30B_A3B, sliding_window=4096, use_sliding_window=False)
    assert read_hf_config(write_config(tmp_path / "q", config)).sliding_window is None


def test_parameter_count_from_architecture_matches_a_known_checkpoint() -> None:
    # Llama 3.1 8B's safetensors metadata totals 8,030,261,248 parameters.
    assert parameter_count_from_architecture(model_catalog().get("llama-3.1-8b")) == 8_030_261_248


def test_malformed_json_is_an_input_error_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{\n  "model_type": "llama",\n  "hidden_size": 4096,,\n}')
    with pytest.raises(InputError) as caught:
        read_hf_config(path)
    message = str(caught.value)
    assert str(path) in message and "line 3" in message and "not valid JSON" in message


def test_config_missing_a_required_key_names_the_key(tmp_path: Path) -> None:
    config = {k: v for k, v in LLAMA_31_8B.items() if k != "num_hidden_layers"}
    with pytest.raises(InputError, match="num_hidden_layers"):
        load_model(str(write_config(tmp_path / "m", config)))


def test_config_that_is_not_an_object_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("[1, 2, 3]")
    with pytest.raises(InputError, match="not a JSON object"):
        read_hf_config(path)


# Issue 13: physically absurd configs were accepted ("head_dim 0" fit at 35%); each is refused
# naming the file and the config's own key.
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"head_dim": 0}, r"config\.json: head_dim: bad value 0"),
        ({"head_dim": -128}, r"head_dim: bad value -128"),
        ({"num_key_value_heads": 7}, r"num_key_value_heads: 7 KV heads do not divide 32 attention heads"),
        ({"num_attention_heads": 30}, r"head_dim: 30 attention heads do not divide hidden size 4096"),
        ({"num_hidden_layers": 2**40}, r"num_hidden_layers: bad value"),
        ({"vocab_size": True}, r"vocab_size: bad value True"),
        ({"intermediate_size": 1e400}, r"out of range"),
    ],
)
def test_absurd_config_numbers_are_refused(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**LLAMA_31_8B, **change}).replace("Infinity", "1e400"))
    with pytest.raises(InputError, match=message):
        read_hf_config(path)


def test_more_experts_used_than_exist_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path / "moe", {**QWEN3_30B_A3B, "num_experts_per_tok": 512})
    with pytest.raises(InputError, match=r"num_experts_per_tok: 512 experts used per token of 128"):
        read_hf_config(path)


def test_gguf_using_experts_it_does_not_have_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.gguf"
    write_tiny_gguf(path, extra={"llama.expert_used_count": 4})
    with pytest.raises(
        InputError, match=r"llama\.expert_used_count: 4 experts used per token, but the model has 0"
    ):
        read_gguf(path)


def test_estimate_cli_refuses_head_dim_zero(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rigshift.cli.app import app

    path = write_config(tmp_path / "m", {**LLAMA_31_8B, "head_dim": 0})
    result = CliRunner().invoke(app, ["estimate", "--gpu", "RTX 3060 12GB", "--model", str(path)])
    assert result.exit_code == 2 and "head_dim: bad value 0" in result.output
    assert "fits" not in result.output
