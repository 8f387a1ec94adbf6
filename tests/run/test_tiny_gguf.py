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
