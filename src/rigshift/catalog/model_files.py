"""Read a model's architecture from its own files: a GGUF header or a Hugging Face config.json.

Fine-tuned and custom models are the point: an operator brings a file the catalog has never seen,
and the estimator still needs layers, heads, KV width and the real weight size. Only metadata is
read: a GGUF file is memory-mapped and its tensor infos (shapes, ggml types) are summed, the
tensor data itself is never touched; a safetensors file contributes only its JSON header.

Every foreign failure (gguf's ValueError on a bad magic, numpy on a truncated file, json on a
broken config) is translated here into an `InputError` that names the file, so the CLI prints one
line instead of a traceback.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rigshift.catalog.model_spec import ModelSpec
from rigshift.errors import InputError, Problem
from rigshift.readers import load_json, read_text

GGUF_MAGIC = b"GGUF"
EMBEDDING_ARCHITECTURES = frozenset({"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "modern-bert"})
# config.json model_type -> the architecture name rigshift uses (llama.cpp's spelling).
_HF_ARCHITECTURES = {
    "llama": "llama",
    "mistral": "mistral",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "qwen3_moe": "qwen3moe",
    "mixtral": "mixtral",
    "gemma2": "gemma2",
    "gemma3": "gemma3",
    "gemma3_text": "gemma3",
    "phi3": "phi3",
    "bert": "bert",
    "roberta": "bert",
    "xlm-roberta": "bert",
    "nomic_bert": "nomic-bert",
}
# Upper bounds for architecture numbers: far above any published model (the largest have ~200
# layers, 256 experts, 262k vocabularies, 10M-token contexts), far below an overflow.
_MAX_ANY = 2**31 - 1
_MAX_CONFIG_VALUE = {
    "num_hidden_layers": 4096,
    "n_layer": 4096,
    "num_attention_heads": 65_536,
    "n_head": 65_536,
    "num_key_value_heads": 65_536,
    "head_dim": 65_536,
    "num_local_experts": 65_536,
    "num_experts": 65_536,
    "n_routed_experts": 65_536,
    "num_experts_per_tok": 65_536,
}
# ModelSpec field -> the key a config.json / GGUF names it by, for error messages.
_HF_FIELD_NAMES = {
    "n_heads": "num_attention_heads",
    "n_kv_heads": "num_key_value_heads",
    "head_dim": "head_dim",
    "hidden_size": "hidden_size",
    "n_experts": "num_local_experts",
    "n_active_experts": "num_experts_per_tok",
    "ffn_size": "intermediate_size",
}
_GGUF_FIELD_NAMES = {
    "n_heads": "attention.head_count",
    "n_kv_heads": "attention.head_count_kv",
    "head_dim": "attention.key_length",
    "hidden_size": "embedding_length",
    "n_experts": "expert_count",
    "n_active_experts": "expert_used_count",
    "ffn_size": "feed_forward_length",
}
_BYTES_PER_DTYPE = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "float8_e4m3fn": 1}


@dataclass(frozen=True)
class GgufFileInfo:
    """What a GGUF file says about itself, including its real weight bytes per tensor type.

    `tensor_types` maps a ggml type name ("Q4_K", "F32") to how many weights are stored in it, so
    the estimator can use the file's true size instead of a nominal bits-per-weight.
    """

    model: ModelSpec
    file_bytes: int
    tensor_bytes: int
    tensor_types: dict[str, int] = field(default_factory=dict)
    quant_label: str | None = None  # from general.file_type, e.g. "Q4_K_M"
    token_embd_bytes: int = 0
    output_bytes: int = 0  # 0 when the output projection is tied to the token embedding


# ---------------------------------------------------------------------------------------------
# Physical sense of a model read from a file
# ---------------------------------------------------------------------------------------------


def check_architecture(spec: ModelSpec, source: str, names: Mapping[str, str]) -> None:
    """Refuse numbers no model can have, naming the file's own key for each (`names`: ModelSpec
    field -> key). The catalog's entries are checked the same way when models.yaml is loaded."""

    def refuse(field: str, message: str, expected: str) -> None:
        raise InputError(Problem(message, source=source, field=names.get(field, field), expected=expected))

    if spec.n_heads % spec.n_kv_heads:
        refuse(
            "n_kv_heads",
            f"{spec.n_kv_heads} KV heads do not divide {spec.n_heads} attention heads",
            "a divisor of the attention heads (grouped-query attention)",
        )
    if spec.is_moe and not 1 <= spec.n_active_experts <= spec.n_experts:
        refuse(
            "n_active_experts",
            f"{spec.n_active_experts} experts used per token of {spec.n_experts}",
            f"from 1 to {spec.n_experts}",
        )
    if spec.n_experts <= 1 and spec.n_active_experts > 1:
        refuse(
            "n_active_experts",
            f"{spec.n_active_experts} experts used per token, but the model has {spec.n_experts}",
            "no more experts used than exist",
        )
    if spec.ffn_size <= 0 and spec.architecture not in ("bert", "nomic-bert"):
        refuse("ffn_size", "feed-forward size 0", "a positive integer")


def _divided(hidden: int, n_heads: int, source: str) -> int:
    """head_dim when a config leaves it out: hidden size / heads, which must divide."""
    if hidden % n_heads:
        raise InputError(
            Problem(
                f"{n_heads} attention heads do not divide hidden size {hidden}",
                source=source,
                field="head_dim",
                expected="head_dim given, or heads that divide the hidden size",
            )
        )
    return hidden // n_heads


# ---------------------------------------------------------------------------------------------
# Parameter count from architecture numbers
# ---------------------------------------------------------------------------------------------


def parameter_count_from_architecture(spec: ModelSpec) -> int:
    """Weights implied by the architecture numbers alone (biases and norms included).

    Used where neither safetensors metadata nor tensor infos are at hand, and by the catalog tests
    to catch typos: a wrong hidden size moves the count far more than the few-percent slack.
    """
    h, layers = spec.hidden_size, spec.n_layers
    if spec.architecture == "bert":
        # Absolute positions, token types, embedding LayerNorm; biased Q/K/V/O and GELU FFN; pooler.
        embeddings = (spec.vocab_size + spec.context_length + 2) * h + 2 * h
        per_layer = 4 * (h * h + h) + 2 * h * spec.ffn_size + spec.ffn_size + h + 4 * h
        return embeddings + layers * per_layer + h * h + h
    if spec.architecture == "nomic-bert":
        # Rotary positions, fused bias-free QKV, SwiGLU FFN, two LayerNorms per layer.
        embeddings = (spec.vocab_size + 2) * h + 2 * h
        per_layer = 4 * h * h + 3 * h * spec.ffn_size + 4 * h
        return embeddings + layers * per_layer
    q_width = spec.n_heads * spec.head_dim
    kv_width = spec.n_kv_heads * spec.head_dim
    attention = 2 * h * q_width + 2 * h * kv_width
    if spec.architecture == "qwen2":
        attention += q_width + 2 * kv_width  # Q/K/V biases
    if spec.architecture in ("qwen3", "qwen3moe", "gemma3"):
        attention += 2 * spec.head_dim  # per-head Q and K RMSNorm
    if spec.is_moe:
        ffn = spec.n_experts * 3 * h * spec.ffn_size + h * spec.n_experts  # experts + router
        if spec.shared_ffn_size:
            ffn += 3 * h * spec.shared_ffn_size + h  # shared expert and its gate
    else:
        ffn = 3 * h * spec.ffn_size  # gated FFN: gate, up, down
    norms = (4 if spec.architecture in ("gemma2", "gemma3") else 2) * h
    embeddings = spec.vocab_size * h * (1 if spec.tied_embeddings else 2)
    return embeddings + layers * (attention + ffn + norms) + h


# ---------------------------------------------------------------------------------------------
# GGUF
# ---------------------------------------------------------------------------------------------


def read_gguf(path: str | Path) -> GgufFileInfo:
    """The architecture, parameter count and per-type weight bytes of a GGUF file."""
    path = Path(path)
    _check_gguf_magic(path)
    try:
        import gguf  # imported here so catalog users that never read files skip numpy's mmap setup

        reader = gguf.GGUFReader(path)
        fields = {name: _field_value(f) for name, f in reader.fields.items() if not name.startswith("GGUF.")}
        tensors = [
            (t.name, t.tensor_type.name, int(t.n_elements), int(t.n_bytes), t.shape) for t in reader.tensors
        ]
        # Inside the try too: metadata of the wrong type (a text head count, an empty shape)
        # fails while it is read, and is the file's fault just the same.
        return _gguf_info(path, fields, tensors)
    except (
        ValueError,
        IndexError,
        KeyError,
        TypeError,
        OverflowError,
        UnicodeDecodeError,
        struct.error,
        MemoryError,  # a corrupt count asking numpy for terabytes
    ) as exc:
        raise InputError(
            Problem(
                f"not a readable GGUF file: {str(exc)[:200]}",
                source=str(path),
                expected="a complete GGUF v2/v3 file",
            )
        ) from exc


def _check_gguf_magic(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except FileNotFoundError as exc:
        raise InputError(Problem("file not found", source=str(path))) from exc
    except OSError as exc:
        raise InputError(Problem(f"cannot read file: {exc.strerror}", source=str(path))) from exc
    if head != GGUF_MAGIC:
        raise InputError(
            Problem(f"not a GGUF file (starts with {head!r})", source=str(path), expected="magic b'GGUF'")
        )


def _field_value(reader_field: Any) -> Any:
    from gguf.constants import GGUFValueType

    # Tokenizer arrays hold 100k+ strings; only their length matters here, so skip decoding them.
    is_array = bool(reader_field.types) and reader_field.types[0] == GGUFValueType.ARRAY
    if is_array and reader_field.name.startswith("tokenizer."):
        return len(reader_field.data)
    return reader_field.contents()


def _gguf_info(
    path: Path, fields: dict[str, Any], tensors: list[tuple[str, str, int, int, Any]]
) -> GgufFileInfo:
    arch = fields.get("general.architecture")
    if not isinstance(arch, str):
        raise InputError(Problem("missing metadata key", source=str(path), field="general.architecture"))

    def key(name: str, default: Any = None) -> Any:
        value = fields.get(f"{arch}.{name}", default)
        # Some architectures store per-layer lists (heads, FFN width): the widest layer bounds memory.
        return max(value) if isinstance(value, list) and value else value

    def required(name: str) -> int:
        value = key(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_ANY:
            raise InputError(
                Problem(
                    "missing or invalid metadata key",
                    source=str(path),
                    field=f"{arch}.{name}",
                    expected=f"a whole number from 1 to {_MAX_ANY:,}",
                )
            )
        return value

    def optional(name: str, default: int) -> int:
        value = key(name, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_ANY:
            raise InputError(
                Problem(
                    f"bad value {repr(value)[:40]}",
                    source=str(path),
                    field=f"{arch}.{name}",
                    expected=f"a whole number from 0 to {_MAX_ANY:,}",
                )
            )
        return value

    by_name = {name: (elements, n_bytes, shape) for name, _, elements, n_bytes, shape in tensors}
    n_layers, hidden, n_heads = (
        required("block_count"),
        required("embedding_length"),
        required("attention.head_count"),
    )
    n_experts = optional("expert_count", 0)
    ffn = optional("expert_feed_forward_length", 0) if n_experts > 1 else 0
    ffn = ffn or optional("feed_forward_length", 0)
    context = required("context_length")
    window = optional("attention.sliding_window", 0)
    spec = ModelSpec(
        key=_slug(str(fields.get("general.name") or path.stem)),
        name=str(fields.get("general.name") or path.stem),
        architecture=arch,
        kind="embedding" if arch in EMBEDDING_ARCHITECTURES or f"{arch}.pooling_type" in fields else "chat",
        params_b=sum(elements for _, _, elements, _, _ in tensors) / 1e9,
        n_layers=n_layers,
        hidden_size=hidden,
        n_heads=n_heads,
        n_kv_heads=optional("attention.head_count_kv", n_heads) or n_heads,
        head_dim=optional("attention.key_length", 0) or _divided(hidden, n_heads, str(path)),
        ffn_size=ffn,
        vocab_size=_gguf_vocab_size(fields, by_name),
        context_length=context,
        n_experts=n_experts,
        n_active_experts=optional("expert_used_count", 0),
        shared_ffn_size=optional("expert_shared_feed_forward_length", 0),
        tied_embeddings="output.weight" not in by_name,
        sliding_window=int(window) if window and window < context else None,
        sliding_window_layers=_gguf_sliding_layers(arch, fields, n_layers)
        if window and window < context
        else 0,
        source=str(path),
    )
    check_architecture(spec, str(path), {name: f"{arch}.{key}" for name, key in _GGUF_FIELD_NAMES.items()})
    type_elements: dict[str, int] = {}
    for _, type_name, elements, _, _ in tensors:
        type_elements[type_name] = type_elements.get(type_name, 0) + elements
    file_type = fields.get("general.file_type")
    return GgufFileInfo(
        model=spec,
        file_bytes=path.stat().st_size,
        tensor_bytes=sum(n_bytes for _, _, _, n_bytes, _ in tensors),
        tensor_types=type_elements,
        quant_label=_quant_label(file_type) if isinstance(file_type, int) else None,
        token_embd_bytes=by_name.get("token_embd.weight", (0, 0, None))[1],
        output_bytes=by_name.get("output.weight", (0, 0, None))[1],
    )


def _gguf_vocab_size(fields: dict[str, Any], by_name: dict[str, tuple[int, int, Any]]) -> int:
    if "token_embd.weight" in by_name:
        return int(by_name["token_embd.weight"][2][-1])  # ggml order: [n_embd, n_vocab]
    tokens = fields.get("tokenizer.ggml.tokens")
    return int(tokens) if isinstance(tokens, int) else 0


def _gguf_sliding_layers(arch: str, fields: dict[str, Any], n_layers: int) -> int:
    pattern = fields.get(f"{arch}.attention.sliding_window_pattern")
    if isinstance(pattern, list):
        return sum(1 for uses_window in pattern if uses_window)
    # llama.cpp hard-codes these layouts instead of writing them into the file.
    if arch == "gemma2":
        return (n_layers + 1) // 2  # even-numbered layers are local
    if arch == "gemma3":
        return n_layers - n_layers // 6  # every sixth layer is global
    return n_layers


def _quant_label(file_type: int) -> str | None:
    from gguf.constants import LlamaFileType

    try:
        name = LlamaFileType(file_type).name
    except ValueError:
        return None
    return None if name == "GUESSED" else name.removeprefix("MOSTLY_").removeprefix("ALL_")


# ---------------------------------------------------------------------------------------------
# Hugging Face config.json
# ---------------------------------------------------------------------------------------------


def read_hf_config(path: str | Path) -> ModelSpec:
    """A ModelSpec from a config.json (or the folder holding it), with the parameter count taken
    from safetensors metadata beside it when present, else computed from the architecture."""
    path = Path(path)
    config_path = path / "config.json" if path.is_dir() else path
    config = _load_json(config_path)
    if not isinstance(config, dict):
        raise InputError(Problem("config is not a JSON object", source=str(config_path), expected="{...}"))
    text = dict(config)
    if isinstance(config.get("text_config"), dict):  # multimodal wrappers (Gemma 3) nest the LM
        text.update(config["text_config"])
    model_type = str(text.get("model_type") or config.get("model_type") or "")
    arch = _HF_ARCHITECTURES.get(model_type, model_type.replace("_", "-") or "unknown")

    def number(*names: str, default: int | None = None, zero_ok: bool = False) -> int:
        # A key that is present must be valid: `head_dim: 0` once fell back to a default and the
        # model "fit at 35%". Only an absent key takes the default.
        for name in names:
            if text.get(name) is None:
                continue
            value = text[name]
            limit = _MAX_CONFIG_VALUE.get(name, _MAX_ANY)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= limit:
                expected = f"a whole number from 1 to {limit:,}"
                if zero_ok and value == 0 and not isinstance(value, bool):
                    return 0  # "0 experts", "no shared expert": said explicitly
                raise InputError(
                    Problem(
                        f"bad value {repr(value)[:40]}",
                        source=str(config_path),
                        field=name,
                        expected=expected,
                    )
                )
            return value
        if default is not None:
            return default
        raise InputError(
            Problem(
                "missing key",
                source=str(config_path),
                field=names[0],
                expected="a positive integer",
            )
        )

    n_layers = number("num_hidden_layers", "n_layer")
    hidden = number("hidden_size", "n_embd", "d_model")
    n_heads = number("num_attention_heads", "n_head")
    n_experts = number("num_local_experts", "num_experts", "n_routed_experts", default=0, zero_ok=True)
    ffn_names = (
        ("moe_intermediate_size", "intermediate_size") if n_experts > 1 else ("intermediate_size", "n_inner")
    )
    # nomic-bert keeps its trained context in n_positions and a shorter default in the other key.
    context_names = (
        ("n_positions", "max_position_embeddings")
        if arch == "nomic-bert"
        else ("max_position_embeddings", "n_positions", "max_seq_len")
    )
    context = number(*context_names)
    window, window_layers = _hf_sliding_window(text, arch, n_layers, context)
    tied = text.get("tie_word_embeddings")
    spec = ModelSpec(
        key=_slug(str(config.get("_name_or_path") or config_path.parent.name or config_path.stem)),
        name=str(config.get("_name_or_path") or config_path.parent.name or config_path.stem),
        architecture=arch,
        kind="embedding" if arch in EMBEDDING_ARCHITECTURES else "chat",
        params_b=0.0,
        n_layers=n_layers,
        hidden_size=hidden,
        n_heads=n_heads,
        n_kv_heads=number("num_key_value_heads", default=n_heads),
        head_dim=number("head_dim", default=0) or _divided(hidden, n_heads, str(config_path)),
        ffn_size=number(*ffn_names, default=4 * hidden),
        vocab_size=number("vocab_size"),
        context_length=context,
        n_experts=n_experts,
        n_active_experts=number("num_experts_per_tok", default=0, zero_ok=True) if n_experts > 1 else 0,
        shared_ffn_size=number("shared_expert_intermediate_size", default=0, zero_ok=True),
        # transformers defaults tie_word_embeddings to True unless a model class overrides it;
        # Gemma and encoder configs often omit it and rely on that default.
        tied_embeddings=bool(tied)
        if tied is not None
        else arch in ("gemma2", "gemma3", "bert", "nomic-bert"),
        sliding_window=window,
        sliding_window_layers=window_layers,
        source=str(config_path),
    )
    check_architecture(spec, str(config_path), _HF_FIELD_NAMES)
    params = _safetensors_parameter_count(config_path.parent, text, config)
    if params is None:
        params = parameter_count_from_architecture(spec)
    return replace(spec, params_b=params / 1e9)


def _load_json(path: Path) -> Any:
    expected = "a Hugging Face config.json"
    return load_json(read_text(path, expected), str(path), expected)


def _hf_sliding_window(
    text: dict[str, Any], arch: str, n_layers: int, context: int
) -> tuple[int | None, int]:
    window = text.get("sliding_window")
    if not isinstance(window, int) or window <= 0 or window >= context:
        return None, 0  # absent, null, or wider than the context (Phi-3 128k sets 262144): no effect
    if text.get("use_sliding_window") is False:  # Qwen2/3 carry a window they never use
        return None, 0
    layer_types = text.get("layer_types")
    if isinstance(layer_types, list):
        return window, sum(1 for kind in layer_types if kind == "sliding_attention")
    if arch == "gemma2":
        return window, (n_layers + 1) // 2  # layers 0, 2, 4, ... are local
    if arch == "gemma3":
        pattern = text.get("sliding_window_pattern")
        if isinstance(pattern, bool) or not isinstance(pattern, int) or pattern < 1:
            pattern = 6  # five local layers, then one global
        return window, n_layers - n_layers // pattern
    if text.get("use_sliding_window") and isinstance(text.get("max_window_layers"), int):
        return window, max(0, n_layers - int(text["max_window_layers"]))
    return window, n_layers


def _safetensors_parameter_count(folder: Path, text: dict[str, Any], config: dict[str, Any]) -> int | None:
    # Packed quantized checkpoints (GPTQ, AWQ) store several weights per element: sizes lie.
    if "quantization_config" in config or "quantization_config" in text:
        return None
    index_path = folder / "model.safetensors.index.json"
    if index_path.is_file():
        index = _load_json(index_path)
        metadata = index.get("metadata") if isinstance(index, dict) else None
        total = metadata.get("total_size") if isinstance(metadata, dict) else None
        dtype = str(config.get("torch_dtype") or config.get("dtype") or text.get("torch_dtype") or "bfloat16")
        if isinstance(total, int) and not isinstance(total, bool) and total > 0:
            return total // _BYTES_PER_DTYPE.get(dtype, 2)
    single = folder / "model.safetensors"
    if single.is_file():
        return _safetensors_header_parameters(single)
    return None


def _safetensors_header_parameters(path: Path) -> int:
    """Sum of tensor shapes in a safetensors header: 8-byte little-endian length, then JSON."""
    try:
        with path.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if length > min(path.stat().st_size - 8, 100 * 2**20):
                raise ValueError(f"header length {length} exceeds the file")
            header = json.loads(handle.read(length))
        total = sum(math.prod(entry["shape"]) for name, entry in header.items() if name != "__metadata__")
        if not isinstance(total, int) or total < 0:
            raise ValueError(f"tensor shapes sum to {total!r}")
        return total
    except (struct.error, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as exc:
        raise InputError(
            Problem(f"unreadable safetensors header: {exc}", source=str(path), expected="a safetensors file")
        ) from exc


def _slug(name: str) -> str:
    tail = name.rstrip("/").rsplit("/", 1)[-1]
    return "-".join(
        part for part in "".join(c if c.isalnum() or c == "." else " " for c in tail.lower()).split()
    )
