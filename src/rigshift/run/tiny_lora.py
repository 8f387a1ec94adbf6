"""A tiny LoRA adapter (llama.cpp's GGUF adapter format) for the tiny demo model of `tiny_gguf`.

The base is a bigram automaton: after any prompt (state 0) its output head picks reply word 0,
then word 1, and so on. This adapter adds a rank-1 update to the output head, `B @ A`, with A
reading state 0 and B pointing at reply word `start_word` with twice the base's logit, so the
adapted model skips the first `start_word` words: it answers "rigshift! This farm mines tokens
now." where the base always says "Hello from rigshift! ...". Every other state is untouched.

Shapes follow llama.cpp's convention (llama-adapter.cpp): for a base tensor of ggml shape
[in, out], `lora_a` is [in, r] and `lora_b` is [r, out] (numpy shapes reversed).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rigshift.errors import InputError
from rigshift.gguf_files import gguf_writer
from rigshift.run.tiny_gguf import DEFAULT_REPLY, TinyModelShape, reply_pieces, vocab_size

_LOGIT = 12.0  # the base head's logit (tiny_gguf); the adapter outweighs it twice over
_FIRST_PIECE = 3 + 256  # three control tokens and 256 byte tokens precede the reply pieces


def adapted_text(reply: str = DEFAULT_REPLY, start_word: int = 2) -> str:
    """What the base model with this adapter applied answers (compare after `.strip()`)."""
    return " ".join(reply.split()[start_word:])


def write_tiny_lora(
    path: str | os.PathLike[str],
    *,
    reply: str = DEFAULT_REPLY,
    start_word: int = 2,
    shape: TinyModelShape | None = None,
    alpha: float = 1.0,
    rank: int = 1,
) -> Path:
    """Write the adapter for the tiny model of (`reply`, `shape`) to `path` (atomically); the
    bytes depend only on the arguments."""
    import gguf  # heavy-ish; only the demo, the tests and the bench need it

    pieces = reply_pieces(reply)
    if not 0 < start_word < len(pieces):
        raise InputError(
            f"start_word {start_word} is outside the {len(pieces)}-word reply",
            field="start_word",
            expected=f"1..{len(pieces) - 1}",
        )
    if rank < 1:
        raise InputError(f"rank {rank} is not positive", field="rank", expected=">= 1")
    shape = shape or TinyModelShape()
    n_vocab = vocab_size(reply)
    a = np.zeros((rank, shape.n_embd), dtype=np.float32)  # ggml [n_embd, r]
    b = np.zeros((n_vocab, rank), dtype=np.float32)  # ggml [r, n_vocab]
    a[0, 0] = 1.0  # reads state 0 (every prompt token)
    b[_FIRST_PIECE + start_word, 0] = 2 * _LOGIT * rank / alpha  # llama.cpp scales by alpha / r

    target = Path(path)
    with gguf_writer(target) as writer:
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        writer.add_name(f"rigshift-tiny-lora-{start_word}")
        writer.add_tensor("output.weight.lora_a", a)
        writer.add_tensor("output.weight.lora_b", b)
    return target
