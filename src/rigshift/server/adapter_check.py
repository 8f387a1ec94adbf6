"""Is this GGUF a LoRA adapter llama.cpp can load on that base model? (header, architecture, shapes)

Read with llama.cpp's own `gguf` package (memory-mapped: nothing is loaded whole). The checks are
the ones llama.cpp makes when it loads an adapter (src/llama-adapter.cpp), done at upload so a
tenant hears what is wrong at once instead of a replica failing to start later:

* `general.type` is "adapter" and `adapter.type` is "lora", with an `adapter.lora.alpha`;
* `general.architecture` equals the base's;
* tensors come in pairs `NAME.lora_a` / `NAME.lora_b`, NAME is a tensor of the base, and for a
  base tensor of ggml shape [in, out]: lora_a is [in, r] and lora_b is [r, out].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rigshift.server.errors import BadRequest

_A, _B = ".lora_a", ".lora_b"


@dataclass(frozen=True)
class AdapterHeader:
    architecture: str
    alpha: float
    rank: int
    tensors: int  # lora_a/lora_b pairs


def _reader(path: Path, what: str) -> Any:
    import gguf  # imported here: only uploads need it

    try:
        return gguf.GGUFReader(str(path))
    except Exception as error:  # the gguf package raises ValueError, struct.error, IndexError...
        raise BadRequest(
            f"the {what} is not a readable GGUF file: {error}", code="invalid_gguf", param="file"
        ) from error


def _field(reader: Any, key: str) -> Any:
    field = reader.fields.get(key)
    try:
        return None if field is None else field.contents()
    except Exception:  # a malformed value reads as missing; the check then names the key
        return None


def check_adapter(adapter: Path, base: Path) -> AdapterHeader:
    """The adapter's header when it fits the base GGUF, else BadRequest naming what mismatched."""
    reader = _reader(adapter, "adapter")
    kind, lora = _field(reader, "general.type"), _field(reader, "adapter.type")
    if kind != "adapter" or lora != "lora":
        raise BadRequest(
            f"not a LoRA adapter: general.type is {kind!r} and adapter.type is {lora!r}; "
            "expected 'adapter' and 'lora' (llama.cpp's convert_lora_to_gguf.py writes them)",
            code="not_a_lora_adapter",
            param="file",
        )
    alpha = _field(reader, "adapter.lora.alpha")
    if not isinstance(alpha, int | float) or alpha <= 0:
        raise BadRequest(
            f"adapter.lora.alpha is {alpha!r}; expected a positive number",
            code="invalid_adapter",
            param="file",
        )
    base_reader = _reader(base, "base model")
    arch, base_arch = _field(reader, "general.architecture"), _field(base_reader, "general.architecture")
    if arch != base_arch:
        raise BadRequest(
            f"the adapter is for architecture {arch!r}; the base model is {base_arch!r}",
            code="architecture_mismatch",
            param="model",
        )
    base_shapes = {t.name: [int(n) for n in t.shape] for t in base_reader.tensors}
    shapes = {t.name: [int(n) for n in t.shape] for t in reader.tensors}
    if not shapes:
        raise BadRequest("the adapter has no tensors", code="invalid_adapter", param="file")
    ranks = set()
    for name in sorted(shapes):
        if not name.endswith((_A, _B)):
            raise BadRequest(
                f"tensor {name!r} is neither a .lora_a nor a .lora_b tensor",
                code="invalid_adapter",
                param="file",
            )
        target, own, other = name[:-7], name[-7:], _B if name.endswith(_A) else _A
        if target + other not in shapes:
            raise BadRequest(
                f"tensor {name!r} has no {target + other!r} to pair with",
                code="invalid_adapter",
                param="file",
            )
        if own == _B:
            continue
        if target not in base_shapes:
            raise BadRequest(
                f"the adapter changes {target!r}, which the base model does not have",
                code="tensor_mismatch",
                param="file",
            )
        a, b, w = shapes[name], shapes[target + _B], base_shapes[target]
        if len(a) != 2 or len(b) != 2 or len(w) != 2 or a[0] != w[0] or b[1] != w[1] or a[1] != b[0]:
            raise BadRequest(
                f"tensor {target!r}: lora_a is {a} and lora_b is {b}; for the base's {w} "
                f"expected lora_a [{w[0]}, r] and lora_b [r, {w[-1]}]",
                code="shape_mismatch",
                param="file",
            )
        ranks.add(a[1])
    return AdapterHeader(str(arch), float(alpha), max(ranks), len(shapes) // 2)
