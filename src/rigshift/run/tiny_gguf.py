"""A tiny llama-architecture GGUF model whose output is printable and predictable.

Used by `rigshift up --demo`, the integration tests and the gateway benchmark: the real llama.cpp
loads it in milliseconds on a CPU, so everything between the client and the backend is exercised
for real without a GPU or a download.

How the output is shaped (why the reply is deterministic whatever the sampler settings):

* Every transformer block is a no-op on the residual stream: `attn_output` and `ffn_down` are
  zero, so the hidden state reaching the output head is exactly the embedding of the *last* token.
  (Q/K/V and the FFN up/gate projections hold seeded random weights; llama.cpp still computes them.)
* The embedding of a token is a one-hot vector for its *state*: state 0 for every token that is
  not part of the reply (all prompt bytes), state i+1 for the i-th reply piece.
* The output head maps state s to one next token with a large logit (`_LOGIT` × √n_embd after
  RMSNorm) and every other token to 0. So the model is a bigram automaton: after any prompt it
  emits reply piece 0, then 1, 2, … and finally EOS (or, with `stop=False`, starts the reply over,
  which gives arbitrarily long streams bounded only by `max_tokens`).
* Reply pieces are multi-character vocabulary entries ("▁Hello") and the only single-character
  entries are the 256 byte tokens, so tokenizing any prompt yields only state-0 tokens: the reply
  always starts from the beginning.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rigshift.errors import InputError
from rigshift.gguf_files import gguf_writer

DEFAULT_REPLY = "Hello from rigshift! This farm mines tokens now."

# Chat template in the ChatML shape; llama.cpp recognises it and the OpenAI chat endpoint works.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_SPACE = "\u2581"  # SentencePiece's word-boundary marker
_LOGIT = 12.0
_UNK, _BOS, _EOS = 0, 1, 2
_FIRST_BYTE = 3  # byte tokens <0x00>..<0xFF> follow the three control tokens


@dataclass(frozen=True)
class TinyModelShape:
    """Dimensions of the generated model; defaults keep the file under 1 MiB."""

    n_embd: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_head_kv: int = 2
    n_ff: int = 128
    context_length: int = 4096
    seed: int = 0


def reply_pieces(reply: str) -> list[str]:
    """Split a reply into vocabulary pieces, one per word, SentencePiece style ("▁word")."""
    words = reply.split()
    if not words:
        raise InputError("the demo reply is empty", field="reply", expected="at least one word")
    pieces = [_SPACE + w for w in words]
    if len(set(pieces)) != len(pieces):
        # The automaton's state is the last token, so a repeated word would loop back early.
        duplicates = sorted({w for w in words if words.count(w) > 1})
        raise InputError(
            f"the demo reply repeats {', '.join(duplicates)}",
            field="reply",
            expected="every word at most once",
        )
    return pieces


def expected_text(reply: str = DEFAULT_REPLY, max_tokens: int | None = None, stop: bool = True) -> str:
    """What llama.cpp emits for any prompt: the reply (whole, or its first `max_tokens` words).

    With `stop=False` the reply repeats, so `max_tokens` words of the endless cycle are returned.
    llama.cpp drops the leading space of the first piece only for some templates, so callers
    should compare after `.strip()`.
    """
    words = reply.split()
    if max_tokens is None:
        if not stop:
            raise ValueError("an endless reply needs max_tokens")
        return " ".join(words)
    n = max_tokens if not stop else min(max_tokens, len(words))
    return " ".join(words[i % len(words)] for i in range(n))


def write_tiny_gguf(
    path: str | os.PathLike[str],
    *,
    reply: str = DEFAULT_REPLY,
    stop: bool = True,
    shape: TinyModelShape = TinyModelShape(),
    name: str = "rigshift-tiny",
) -> Path:
    """Write the model to `path` (atomically: a temp file then a rename) and return the path.

    The bytes depend only on the arguments, so two machines writing the same model get the same
    file (and the same content hash in a model cache).
    """
    # Imported here: gguf pulls in a few heavy modules and only the demo and tests need it.
    import gguf

    pieces = reply_pieces(reply)
    if shape.n_embd < len(pieces) + 1:
        raise InputError(
            f"n_embd {shape.n_embd} is too small for a {len(pieces)}-word reply",
            field="shape.n_embd",
            expected=f">= {len(pieces) + 1}",
        )

    tokens: list[str] = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + pieces
    token_types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    token_types += [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL] * len(pieces)
    scores = [0.0] * len(tokens)
    n_vocab = len(tokens)
    first_piece = _FIRST_BYTE + 256

    tensors = _shaped_tensors(shape, n_vocab, first_piece, len(pieces), stop)

    target = Path(path)
    with gguf_writer(target) as writer:
        writer.add_name(name)
        writer.add_description(f"rigshift tiny demo model; replies: {reply!r}")
        writer.add_context_length(shape.context_length)
        writer.add_embedding_length(shape.n_embd)
        writer.add_block_count(shape.n_layer)
        writer.add_feed_forward_length(shape.n_ff)
        writer.add_head_count(shape.n_head)
        writer.add_head_count_kv(shape.n_head_kv)
        writer.add_rope_dimension_count(shape.n_embd // shape.n_head)
        writer.add_layer_norm_rms_eps(1e-5)
        writer.add_file_type(gguf.LlamaFileType.ALL_F32)
        writer.add_tokenizer_model("llama")
        writer.add_token_list(tokens)
        writer.add_token_scores(scores)
        writer.add_token_types(token_types)
        writer.add_bos_token_id(_BOS)
        writer.add_eos_token_id(_EOS)
        writer.add_unk_token_id(_UNK)
        writer.add_add_bos_token(True)
        writer.add_add_eos_token(False)
        writer.add_chat_template(CHATML_TEMPLATE)
        for tensor_name, array in tensors.items():
            writer.add_tensor(tensor_name, array)
    return target


def _shaped_tensors(
    shape: TinyModelShape, n_vocab: int, first_piece: int, n_pieces: int, stop: bool
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(shape.seed)
    d, ff = shape.n_embd, shape.n_ff
    head_dim = d // shape.n_head
    kv = head_dim * shape.n_head_kv

    def rand(*dims: int) -> np.ndarray:
        return (rng.standard_normal(dims) * 0.02).astype(np.float32)

    # Embedding: state 0 for control/byte tokens, state i+1 for reply piece i.
    embd = np.zeros((n_vocab, d), dtype=np.float32)
    embd[:first_piece, 0] = 1.0
    for i in range(n_pieces):
        embd[first_piece + i, i + 1] = 1.0

    # Output head: state s -> the token that follows it.
    out = np.zeros((n_vocab, d), dtype=np.float32)
    out[first_piece, 0] = _LOGIT  # after the prompt: the first piece
    for i in range(n_pieces - 1):
        out[first_piece + i + 1, i + 1] = _LOGIT
    out[_EOS if stop else first_piece, n_pieces] = _LOGIT

    tensors: dict[str, np.ndarray] = {"token_embd.weight": embd}
    for layer in range(shape.n_layer):
        p = f"blk.{layer}."
        tensors[p + "attn_norm.weight"] = np.ones(d, dtype=np.float32)
        tensors[p + "attn_q.weight"] = rand(d, d)
        tensors[p + "attn_k.weight"] = rand(kv, d)
        tensors[p + "attn_v.weight"] = rand(kv, d)
        tensors[p + "attn_output.weight"] = np.zeros((d, d), dtype=np.float32)
        tensors[p + "ffn_norm.weight"] = np.ones(d, dtype=np.float32)
        tensors[p + "ffn_gate.weight"] = rand(ff, d)
        tensors[p + "ffn_up.weight"] = rand(ff, d)
        tensors[p + "ffn_down.weight"] = np.zeros((d, ff), dtype=np.float32)
    tensors["output_norm.weight"] = np.ones(d, dtype=np.float32)
    tensors["output.weight"] = out
    return tensors
