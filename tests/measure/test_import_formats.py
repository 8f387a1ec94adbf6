"""`bench import` on real llama-bench output (captured from the llama-bench built here, and the
device-line formats of published Vulkan/CUDA/ROCm runs) and on Ollama --verbose timings."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rigshift.errors import InputError, UnknownNameError
from rigshift.measure.formats import detect_format, parse_bench_text, parse_test_name
from rigshift.measure.importer import ImportDefaults, import_files, quant_of_ftype, runtime_of_backend

FIXTURES = Path(__file__).parent / "fixtures"
CPU_FORMATS = ("md", "csv", "json", "jsonl", "sql")


def _expected_rates(fmt: str) -> list[tuple[int, int, float]]:
    """(n_prompt, n_gen, avg_ts) read from the file by the standard library, not our parser."""
    path = FIXTURES / f"cpu_qwen3-0.6b.{fmt}"
    text = path.read_text()
    if fmt == "csv":
        rows = list(csv.DictReader(text.splitlines()))
    elif fmt == "json":
        rows = json.loads(text)
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    elif fmt == "sql":
        import sqlite3

        db = sqlite3.connect(":memory:")
        db.executescript(text)  # our own captured fixture: safe to execute in a test
        db.row_factory = sqlite3.Row
        rows = [dict(r) for r in db.execute("SELECT * FROM llama_bench")]
    else:  # md: the t/s column
        rows = []
        for line in text.splitlines():
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) > 2 and cells[-2].startswith(("pp", "tg")):
                pp, tg, _ = parse_test_name(cells[-2])  # type: ignore[misc]
                rows.append({"n_prompt": pp, "n_gen": tg, "avg_ts": cells[-1].split()[0]})
    return [(int(r["n_prompt"]), int(r["n_gen"]), float(r["avg_ts"])) for r in rows]


@pytest.mark.parametrize("fmt", CPU_FORMATS)
def test_every_llama_bench_format_is_read_with_its_rates(fmt):
    path = FIXTURES / f"cpu_qwen3-0.6b.{fmt}"
    assert detect_format(path.read_text()) == fmt
    rows = import_files([path], ImportDefaults(model="qwen3-0.6b"), measured_at=1.0)
    assert [(r.n_prompt, r.n_gen, r.tokens_per_s) for r in rows] == _expected_rates(fmt)
    assert {r.test for r in rows} == {"pp32", "tg8"}
    for r in rows:
        assert (r.runtime, r.card_key, r.model_key, r.quant) == (
            "llama.cpp-cpu",
            "host-cpu",
            "qwen3-0.6b",
            "Q4_K_M",
        )
        assert r.source.startswith(f"import {path.name}:")
        assert r.stddev_tokens_per_s >= 0
    if fmt in ("json", "jsonl"):  # only llama-bench's JSON outputs list each repetition
        data = [json.loads(line) for line in path.read_text().splitlines()] if fmt == "jsonl" else None
        data = data if data is not None else json.loads(path.read_text())
        assert [r.samples_tokens_per_s for r in rows] == [tuple(d["samples_ts"]) for d in data]
        assert all(len(r.samples_tokens_per_s) >= 2 for r in rows)
    else:
        assert all(r.samples_tokens_per_s == () for r in rows)


@pytest.mark.parametrize("fmt", ("csv", "json", "jsonl", "sql"))
def test_machine_formats_name_the_model_by_file_name_and_the_cpu(fmt):
    rows = import_files([FIXTURES / f"cpu_qwen3-0.6b.{fmt}"], ImportDefaults(), measured_at=1.0)
    assert {r.model_key for r in rows} == {"qwen3-0.6b"}
    assert {r.card_name for r in rows} == {"AMD EPYC"}
    assert {r.runtime_build for r in rows} == {"unknown (0)"}


def test_line_numbers_point_at_each_result():
    path = FIXTURES / "cpu_qwen3-0.6b.json"
    lines = path.read_text().splitlines()
    for row in import_files([path], ImportDefaults(), measured_at=1.0):
        line = int(row.source.rsplit(":", 1)[1])
        assert lines[line - 1] == "  {"
        block = "\n".join(lines[line - 1 : line + 45])
        assert f'"n_gen": {row.n_gen},' in block


def test_published_vulkan_header_names_the_card_and_backend():
    rows = import_files([FIXTURES / "vulkan_rx570_published.md"], ImportDefaults(), measured_at=1.0)
    assert [(r.test, r.tokens_per_s, r.stddev_tokens_per_s) for r in rows] == [
        ("pp512", 152.31, 0.42),
        ("tg128", 14.02, 0.05),
    ]
    r = rows[0]
    assert r.card_name == "AMD Radeon RX 570 Series"
    assert r.card_key.startswith("radeon-rx-570")
    assert (r.runtime, r.model_key, r.quant, r.runtime_build) == (
        "llama.cpp-vulkan",
        "llama-3.1-8b",
        "Q4_0",
        "e598697d (4696)",
    )
    assert r.n_gpu_layers == 99


def test_gpu_flag_picks_the_vram_variant_the_file_cannot_tell():
    rows = import_files(
        [FIXTURES / "vulkan_rx570_published.md"], ImportDefaults(gpu="RX 570 8GB"), measured_at=1.0
    )
    assert rows[0].card_key == "radeon-rx-570-8gb" and rows[0].vram_gib == 8


def test_gpu_flag_contradicting_the_file_is_an_error_with_the_line():
    with pytest.raises(InputError, match=r"vulkan_rx570_published.md:line 6: gpu: the file reports"):
        import_files(
            [FIXTURES / "vulkan_rx570_published.md"], ImportDefaults(gpu="RTX 3060 12GB"), measured_at=1.0
        )


def test_published_cuda_header_with_vram_and_pascal_card():
    rows = import_files([FIXTURES / "cuda_p40_published.md"], ImportDefaults(), measured_at=1.0)
    assert {(r.card_key, r.runtime, r.quant) for r in rows} == {("tesla-p40", "llama.cpp-cuda", "Q4_1")}
    assert [r.tokens_per_s for r in rows] == [1007.12, 41.85]


def test_old_rocm_output_with_spaced_test_names():
    rows = import_files([FIXTURES / "rocm_old_spaced_tests.md"], ImportDefaults(), measured_at=1.0)
    assert [(r.test, r.runtime, r.model_key, r.quant) for r in rows] == [
        ("pp512", "llama.cpp-rocm", "qwen2.5-7b", "Q4_K_M"),
        ("tg128", "llama.cpp-rocm", "qwen2.5-7b", "Q4_K_M"),
    ]


def test_ollama_timings_take_gpu_model_and_quant_from_flags():
    path = FIXTURES / "ollama_verbose.txt"
    defaults = ImportDefaults(
        gpu="RX 580 8GB", model="llama3.1:8b", quant="Q4_K_M", runtime="llama.cpp-vulkan"
    )
    rows = import_files([path], defaults, measured_at=1.0)
    assert [(r.test, r.tokens_per_s) for r in rows] == [("pp26", 139.0), ("tg58", 12.29)]
    assert {(r.card_key, r.model_key, r.runtime) for r in rows} == {
        ("radeon-rx-580-8gb", "llama-3.1-8b", "llama.cpp-vulkan")
    }


def test_ollama_without_a_quant_says_which_flag_is_missing():
    with pytest.raises(
        InputError, match=r"ollama_verbose.txt:line 8: quant: the file does not name the quantization"
    ):
        import_files(
            [FIXTURES / "ollama_verbose.txt"],
            ImportDefaults(gpu="RX 580 8GB", model="llama-3.1-8b"),
            measured_at=1.0,
        )


def test_markdown_without_a_recognisable_model_suggests_catalog_models():
    with pytest.raises(UnknownNameError) as caught:
        import_files([FIXTURES / "cpu_qwen3-0.6b.md"], ImportDefaults(), measured_at=1.0)
    assert "cpu_qwen3-0.6b.md:line 3" in str(caught.value)
    assert caught.value.suggestions


def test_bad_rows_name_file_line_and_field(tmp_path):
    text = (FIXTURES / "vulkan_rx570_published.md").read_text().replace("14.02 ± 0.05", "fast")
    bad = tmp_path / "bad.md"
    bad.write_text(text)
    with pytest.raises(InputError, match=r"bad.md:line 7: t/s: cannot read tokens/s 'fast'"):
        import_files([bad], ImportDefaults(), measured_at=1.0)
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text(
        (FIXTURES / "cpu_qwen3-0.6b.jsonl").read_text().replace('"avg_ts": 41.407396', '"avg_ts": "x"')
    )
    with pytest.raises(InputError, match=r"bad.jsonl:line 2: avg_ts: avg_ts is 'x', not a number"):
        import_files([jsonl], ImportDefaults(), measured_at=1.0)
    for samples, said in (('"oops"', "is 'oops', not a list"), ("[ 58.3758, -1 ]", r"holds \[58.3758, -1\]")):
        jsonl.write_text(
            (FIXTURES / "cpu_qwen3-0.6b.jsonl")
            .read_text()
            .replace('"samples_ts": [ 58.3758, 24.439 ]', f'"samples_ts": {samples}')
        )
        with pytest.raises(InputError, match=rf"bad.jsonl:line 2: samples_ts: samples_ts {said}"):
            import_files([jsonl], ImportDefaults(), measured_at=1.0)
    broken = tmp_path / "broken.json"
    broken.write_text('[\n  {\n    "avg_ts": 1,\n')
    with pytest.raises(InputError, match=r"broken.json:line \d+: not valid JSON"):
        import_files([broken], ImportDefaults(), measured_at=1.0)


def test_text_without_results_is_refused(tmp_path):
    empty = tmp_path / "notes.txt"
    empty.write_text("nothing to see\n")
    with pytest.raises(InputError, match="no llama-bench or Ollama results found"):
        import_files([empty], ImportDefaults(), measured_at=1.0)


def test_sql_is_parsed_never_executed(tmp_path):
    sneaky = tmp_path / "x.sql"
    sneaky.write_text(
        "ATTACH DATABASE 'evil.db' AS e;\nINSERT INTO llama_bench (avg_ts) VALUES ('1'); DROP TABLE x;\n"
    )
    with pytest.raises(InputError, match="cannot read INSERT statement"):
        parse_bench_text(sneaky.read_text(), str(sneaky))
    assert not (tmp_path / "evil.db").exists()


@pytest.mark.parametrize(
    ("text", "quant"),
    [
        ("llama 8B Q4_K - Medium", "Q4_K_M"),
        ("qwen2 7B Q4_K - Small", "Q4_K_S"),
        ("llama 13B Q3_K - Large", "Q3_K_L"),
        ("gemma3 1B IQ4_XS - 4.25 bpw", "IQ4_XS"),
        ("llama 7B F16", "F16"),
        ("llama 8B Q4_0", "Q4_0"),
        ("/models/Meta-Llama-3.1-8B-Instruct-Q5_K_M.gguf", "Q5_K_M"),
    ],
)
def test_quant_names_from_llama_cpp_descriptions(text, quant):
    assert quant_of_ftype(text) == quant


def test_backends_map_to_runtimes_with_a_suggestion_for_others():
    assert runtime_of_backend("RPC,Vulkan") == "llama.cpp-vulkan"
    assert runtime_of_backend("CUDA") == "llama.cpp-cuda"
    assert runtime_of_backend("BLAS") == "llama.cpp-cpu"
    with pytest.raises(UnknownNameError, match="backend 'Vulkn' is not a runtime") as caught:
        runtime_of_backend("Vulkn")
    assert "Vulkan" in caught.value.suggestions


def test_a_row_of_another_width_than_its_header_names_its_line(tmp_path):
    md = (FIXTURES / "cpu_qwen3-0.6b.md").read_text().splitlines()
    md[3] += " extra |"
    with pytest.raises(
        InputError, match=r"line 4: 8 cells in a table of 7 columns \(expected one cell per header"
    ):
        parse_bench_text("\n".join(md), "bad.md")
    csv_lines = (FIXTURES / "cpu_qwen3-0.6b.csv").read_text().splitlines()
    csv_lines[2] += ',"extra"'
    columns = len(csv_lines[0].split(","))
    with pytest.raises(
        InputError, match=rf"line 3: {columns + 1} values for {columns} columns \(expected one value"
    ):
        parse_bench_text("\n".join(csv_lines), "bad.csv")
