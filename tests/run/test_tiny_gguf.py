"""The generated model is a valid GGUF whose weights encode the reply automaton."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest

from rigshift.errors import InputError
from rigshift.run.tiny_gguf import expected_text, reply_pieces, write_tiny_gguf


def _greedy_reply(path: Path, steps: int) -> list[str]:
    """Run the automaton the way llama.cpp would: last token -> embedding -> RMSNorm -> head."""
    reader = gguf.GGUFReader(str(path))
    tensors = {t.name: np.asarray(t.data) for t in reader.tensors}
    field = reader.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(field.parts[i]).decode() for i in field.data]
    embd, out = tensors["token_embd.weight"], tensors["output.weight"]
    current = tokens.index("<0x41>")  # any prompt byte
    text = []
    for _ in range(steps):
        h = embd[current]
        h = h / np.sqrt(np.mean(h * h) + 1e-5)
        current = int(np.argmax(out @ h))
        if tokens[current] == "</s>":
            break
        text.append(tokens[current].replace("\u2581", " "))
    return text


def test_reply_is_emitted_then_eos(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "m.gguf", reply="Mining tokens pays")
    assert "".join(_greedy_reply(path, 10)).strip() == "Mining tokens pays"
    assert expected_text("Mining tokens pays") == "Mining tokens pays"
    assert expected_text("Mining tokens pays", max_tokens=2) == "Mining tokens"


def test_endless_reply_cycles(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "m.gguf", reply="a b c", stop=False)
    assert "".join(_greedy_reply(path, 7)).split() == ["a", "b", "c", "a", "b", "c", "a"]
    assert expected_text("a b c", max_tokens=4, stop=False) == "a b c a"


def test_same_arguments_same_bytes(tmp_path: Path) -> None:
    a = write_tiny_gguf(tmp_path / "a.gguf").read_bytes()
    b = write_tiny_gguf(tmp_path / "b.gguf").read_bytes()
    assert a == b
    assert len(a) < 1 << 20


def test_metadata_llama_cpp_needs(tmp_path: Path) -> None:
    reader = gguf.GGUFReader(str(write_tiny_gguf(tmp_path / "m.gguf")))
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    assert arch == "llama"
    assert "tokenizer.chat_template" in reader.fields
    types = reader.fields["tokenizer.ggml.token_type"]
    byte_tokens = sum(1 for i in types.data if int(types.parts[i][0]) == gguf.TokenType.BYTE)
    assert byte_tokens == 256


def test_bad_replies_are_rejected() -> None:
    with pytest.raises(InputError, match="repeats"):
        reply_pieces("go go")
    with pytest.raises(InputError, match="empty"):
        reply_pieces("   ")


def test_grammar_friendly_tokenizer(tmp_path: Path) -> None:
    """No space prefix (llama.cpp feeds the generation prompt to a JSON grammar byte by byte; the
    prefix's "▁" made every response_format request fail), and Hermes' call opener is one piece."""
    reader = gguf.GGUFReader(str(write_tiny_gguf(tmp_path / "m.gguf")))
    assert bool(reader.fields["tokenizer.ggml.add_space_prefix"].parts[-1][0]) is False
    field = reader.fields["tokenizer.ggml.tokens"]
    assert "<tool_call>\n" in [bytes(field.parts[i]).decode() for i in field.data]


def test_second_choices_close_json(tmp_path: Path) -> None:
    """Where a grammar masks the reply, state 0 prefers `"` then `{` `:` `}` `,` then EOS."""
    path = write_tiny_gguf(tmp_path / "m.gguf", reply="a b")
    reader = gguf.GGUFReader(str(path))
    out = np.asarray(next(t for t in reader.tensors if t.name == "output.weight").data)
    state0 = out[:, 0]
    ranked = [int(i) for i in np.argsort(-state0)[:7]]
    field = reader.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(field.parts[i]).decode() for i in field.data]
    assert [tokens[i] for i in ranked] == [
        "\u2581a",
        "<0x22>",
        "<0x7B>",
        "<0x3A>",
        "<0x7D>",
        "<0x2C>",
        "</s>",
    ]
