"""`rigshift estimate`, `gpus`, `models` as a user runs them."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter
from typer.testing import CliRunner

from rigshift.cli.app import app

runner = CliRunner()
REQUIRED = {
    "fits",
    "reason",
    "memory_gib",
    "decode_tokens_per_s",
    "prefill_tokens_per_s",
    "max_context",
    "load_seconds",
}


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def test_json_has_the_documented_fields() -> None:
    result = run(
        "estimate",
        "--gpu",
        "RTX 3060 12GB",
        "--model",
        "llama-3.1-8b",
        "--quant",
        "Q4_K_M",
        "--context",
        "8192",
        "--parallel",
        "4",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data.keys() >= REQUIRED
    assert {"weights", "kv_cache", "compute", "overhead", "total", "per_gpu"} <= data["memory_gib"].keys()
    assert data["fits"] is True
    assert data["gpu_key"] == "geforce-rtx-3060-12gb"
    assert data["memory_gib"]["kv_cache"] == pytest.approx(4.0, rel=0.01)  # 4 × 8192 tokens × 128 KiB


def test_split_over_gpus_reports_each_gpu() -> None:
    result = run("estimate", "--gpu", "RTX 3090", "--model", "llama-3.1-70b", "--gpus", "2", "--json")
    data = json.loads(result.output)
    assert len(data["memory_gib"]["per_gpu"]) == 2


def test_table_output_names_the_verdict() -> None:
    result = run("estimate", "--gpu", "Radeon RX 580 Series", "--model", "qwen2.5-14b")
    assert result.exit_code == 0
    assert "does not fit" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--gpu", "RTX 3606", "--model", "llama-3.1-8b"], "RTX 3060"),
        (["--gpu", "RTX 3060", "--model", "lama-3.1-8b"], "llama-3.1-8b"),
        (["--gpu", "RTX 3060", "--model", "llama-3.1-8b", "--quant", "Q4_KM"], "Q4_K_M"),
        (["--gpu", "RTX 3060", "--model", "llama-3.1-8b", "--kv-type", "q9"], "f16"),
        (["--gpu", "RTX 3060", "--model", "llama-3.1-8b", "--parallel", "0"], "parallel"),
        (["--gpu", "RTX 3060", "--model", "llama-3.1-8b", "--pcie", "fast"], "gen1x1"),
    ],
)
def test_bad_input_exits_2_with_a_hint(args: list[str], expected: str) -> None:
    result = run("estimate", *args)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output


def _tiny_gguf(path: Path) -> None:
    writer = GGUFWriter(str(path), "llama")
    writer.add_context_length(4096)
    writer.add_embedding_length(256)
    writer.add_block_count(2)
    writer.add_feed_forward_length(512)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_token_list([f"t{i}" for i in range(1000)])
    writer.add_tensor("token_embd.weight", np.zeros((1000, 256), dtype=np.float16))
    for i in range(2):
        for name, shape in (
            ("attn_q", (256, 256)),
            ("attn_k", (128, 256)),
            ("attn_v", (128, 256)),
            ("attn_output", (256, 256)),
            ("ffn_gate", (512, 256)),
            ("ffn_up", (512, 256)),
            ("ffn_down", (256, 512)),
        ):
            writer.add_tensor(f"blk.{i}.{name}.weight", np.zeros(shape, dtype=np.float16))
    writer.add_tensor("output.weight", np.zeros((1000, 256), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_a_gguf_file_is_a_model(tmp_path: Path) -> None:
    model = tmp_path / "custom-finetune.gguf"
    _tiny_gguf(model)
    result = run(
        "estimate",
        "--gpu",
        "GTX 1070",
        "--model",
        str(model),
        "--quant",
        "F16",
        "--context",
        "2048",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["fits"] is True
    assert data["memory_gib"]["weights"] < 0.01


def test_a_corrupt_file_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00garbage")
    proc = subprocess.run(
        [sys.executable, "-m", "rigshift.cli.app", "estimate", "--gpu", "RTX 3060", "--model", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "broken.gguf" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_catalog_listings_filter() -> None:
    gpus = json.loads(run("gpus", "--vendor", "amd", "--min-vram", "16", "--json").output)
    assert gpus and all(g["vendor"] == "amd" and g["vram_gib"] >= 16 for g in gpus)
    mining = json.loads(run("gpus", "--mining-only", "--json").output)
    assert {g["key"] for g in mining} >= {"cmp-170hx-8gb", "p104-100"}
    moe = json.loads(run("models", "--moe", "--json").output)
    assert moe and all(m["n_experts"] > 1 for m in moe)
    embeddings = json.loads(run("models", "--kind", "embedding", "--json").output)
    assert len(embeddings) >= 3
