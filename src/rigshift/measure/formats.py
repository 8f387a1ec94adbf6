"""Read llama-bench and Ollama output as users have it, into format-free `BenchRecord`s.

llama-bench (llama.cpp tools/llama-bench/llama-bench.cpp) prints one of five formats: a markdown
table (the default), `-o csv`, `-o json`, `-o jsonl` and `-o sql`. The machine formats carry every
field (`test::get_fields()`: gpu_info, backends, model_type, model_size, model_n_params, n_prompt,
n_gen, n_depth, avg_ts, stddev_ts, ...); the markdown table carries model type, size, params,
backend and "pp512"/"tg128" test names, and the device lines llama.cpp logs before it
(`ggml_vulkan: 0 = AMD Radeon RX 570 Series (RADV POLARIS10) ...`, `Device 0: NVIDIA ...,
compute capability 6.1, VMM: yes`) name the GPU. Ollama's `--verbose` prints "prompt eval rate"
and "eval rate" lines. Nothing here knows the catalogs: mapping names is `importer.py`'s job.

Every record keeps the line it came from, so an error can name FILE:LINE.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from rigshift.errors import InputError, Problem
from rigshift.measure.types import llama_bench_test


@dataclass(frozen=True)
class BenchRecord:
    """One benchmark result as read from a file, before any catalog lookup."""

    line: int
    avg_ts: float
    stddev_ts: float = 0.0
    samples_ts: tuple[float, ...] = ()  # each repetition's rate (JSON output only)
    n_prompt: int = 0
    n_gen: int = 0
    n_depth: int = 0
    model_type: str = ""  # llama.cpp's description: "llama 8B Q4_K - Medium"
    model_filename: str = ""
    model_size: int | None = None  # bytes
    model_n_params: int | None = None
    backend: str = ""  # "CUDA", "Vulkan", "ROCm", "CPU", "BLAS", ...
    gpu_info: str = ""  # device name(s) as the runtime reported them
    cpu_info: str = ""
    build_commit: str = ""
    build_number: int | None = None
    n_gpu_layers: int | None = None
    n_threads: int | None = None
    test_time: str = ""
    format: str = ""  # md | csv | json | jsonl | sql | ollama
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def test(self) -> str:
        """llama-bench's own name for the test: pp512, tg128, pp512+tg128, with "@ d4096"."""
        return llama_bench_test(self.n_prompt, self.n_gen, self.n_depth)


@dataclass(frozen=True)
class LogFacts:
    """What the runtime logged about the devices before the table."""

    gpus: tuple[str, ...] = ()
    backend: str = ""
    vram_mib: float | None = None
    build_commit: str = ""
    build_number: int | None = None


# ggml_vulkan: 0 = AMD Radeon RX 570 Series (RADV POLARIS10) (radv) | uma: 0 | fp16: 0 | ...
_VULKAN_DEVICE = re.compile(r"^\s*ggml_vulkan:\s*\d+\s*=\s*(?P<name>[^|]+?)\s*(?:\||$)")
# Older builds: "Vulkan0: AMD Radeon RX 5700 XT (RADV NAVI10) | uma: 0 | fp16: 1 | warp size: 64"
_VULKAN_DEVICE_OLD = re.compile(r"^\s*Vulkan\d+:\s*(?P<name>[^|]+?)\s*\|")
# ggml_cuda_init: found 1 CUDA devices (Total VRAM: 7777 MiB):   / "found 1 ROCm devices:"
_CUDA_FOUND = re.compile(r"found \d+ (?P<backend>CUDA|ROCm|MUSA|SYCL) devices", re.IGNORECASE)
#   Device 0: NVIDIA GeForce RTX 3090, compute capability 8.6, VMM: yes, VRAM: 24135 MiB
_CUDA_DEVICE = re.compile(r"^\s*Device \d+:\s*(?P<name>[^,]+)(?P<rest>.*)$")
_VRAM = re.compile(r"VRAM:\s*(?P<mib>\d+)\s*MiB")
_BUILD = re.compile(r"^\s*build:\s*(?P<commit>[0-9a-f]+)\s*\((?P<number>\d+)\)")
_DEVICE_SUFFIX = re.compile(r"\s*\((?:RADV|NVIDIA|radv|AMD|Intel|LLVM)[^)]*\).*$")


def _clean_device(name: str) -> str:
    """'AMD Radeon RX 570 Series (RADV POLARIS10) (radv)' -> 'AMD Radeon RX 570 Series'."""
    return _DEVICE_SUFFIX.sub("", name).strip()


def read_log_facts(lines: list[str]) -> LogFacts:
    gpus: list[str] = []
    backend = ""
    vram = None
    commit, number = "", None
    cuda_section = False
    for text in lines:
        if m := _VULKAN_DEVICE.match(text) or _VULKAN_DEVICE_OLD.match(text):
            gpus.append(_clean_device(m.group("name")))
            backend = backend or "Vulkan"
            continue
        if m := _CUDA_FOUND.search(text):
            backend = "ROCm" if m.group("backend").upper() == "ROCM" else m.group("backend").upper()
            cuda_section = True
            continue
        if cuda_section and (m := _CUDA_DEVICE.match(text)):
            gpus.append(m.group("name").strip())
            if v := _VRAM.search(m.group("rest")):
                vram = float(v.group("mib"))
            continue
        if m := _BUILD.match(text):
            commit, number = m.group("commit"), int(m.group("number"))
    return LogFacts(tuple(gpus), backend, vram, commit, number)


def detect_format(text: str) -> str:
    """md | csv | json | jsonl | sql | ollama, from the content (not the file name)."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        return "jsonl"
    if "INSERT INTO llama_bench" in text or "CREATE TABLE IF NOT EXISTS llama_bench" in text:
        return "sql"
    if re.search(r"^\s*\|\s*model\s*\|", text, re.MULTILINE):
        return "md"
    if re.search(r"^build_commit,", text, re.MULTILINE) or re.search(
        r'^"?build_commit"?,', text, re.MULTILINE
    ):
        return "csv"
    if re.search(r"^\s*(prompt eval rate|eval rate):", text, re.MULTILINE):
        return "ollama"
    return "unknown"


def parse_bench_text(text: str, source: str) -> tuple[list[BenchRecord], LogFacts]:
    """Every result in `text` (the content of `source`), with the device facts logged around it."""
    lines = text.splitlines()
    facts = read_log_facts(lines)
    fmt = detect_format(text)
    parsers = {
        "md": _parse_markdown,
        "csv": _parse_csv,
        "json": _parse_json,
        "jsonl": _parse_jsonl,
        "sql": _parse_sql,
        "ollama": _parse_ollama,
    }
    if fmt not in parsers:
        raise InputError(
            Problem(
                "no llama-bench or Ollama results found",
                source=source,
                expected="llama-bench output (markdown table, -o csv/json/jsonl/sql) or `ollama run --verbose` timings",
            )
        )
    records = parsers[fmt](lines, source)
    if not records:
        raise InputError(Problem(f"{fmt} output without a single result row", source=source))
    return [replace(r, format=fmt) for r in records], facts


def _problem(
    source: str, line: int, message: str, field_name: str | None = None, expected: str | None = None
) -> InputError:
    return InputError(
        Problem(message, source=source, location=f"line {line}", field=field_name, expected=expected)
    )


def _by_header(
    header: list[str], cells: list[str], source: str, line: int, wrong_width: tuple[str, str]
) -> dict[str, str]:
    """A table row's cells by header name. `wrong_width` (message, expected) is the problem with a
    row of another width; its message names the row's `{cells}` and the header's `{columns}`."""
    if len(cells) != len(header):
        message, expected = wrong_width
        raise _problem(source, line, message.format(cells=len(cells), columns=len(header)), expected=expected)
    return dict(zip(header, cells, strict=True))


_SIZE = re.compile(r"^\s*([\d.]+)\s*(KiB|MiB|GiB|TiB)\s*$")
_PARAMS = re.compile(r"^\s*([\d.]+)\s*([KMBT]?)\s*$")
_TEST = re.compile(r"^\s*(?:pp\s*(?P<pp>\d+))?\s*\+?\s*(?:tg\s*(?P<tg>\d+))?\s*(?:@\s*d(?P<depth>\d+))?\s*$")
_RATE = re.compile(r"^\s*(?P<avg>[\d.]+)\s*(?:\S+\s*(?P<sd>[\d.]+))?\s*$")
_UNITS = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}
_SCALE = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def parse_test_name(name: str) -> tuple[int, int, int] | None:
    """'pp512' -> (512, 0, 0); 'tg 128' -> (0, 128, 0); 'pp4096+tg128' ; 'pp512 @ d4096'."""
    m = _TEST.match(name)
    if not m or not (m.group("pp") or m.group("tg")):
        return None
    return int(m.group("pp") or 0), int(m.group("tg") or 0), int(m.group("depth") or 0)


def _cells(text: str) -> list[str]:
    body = text.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") else body
    return [c.strip() for c in body.split("|")]


def _parse_markdown(lines: list[str], source: str) -> list[BenchRecord]:
    records: list[BenchRecord] = []
    header: list[str] | None = None
    build_commit, build_number = "", None
    for number, text in enumerate(lines, start=1):
        if m := _BUILD.match(text):
            build_commit, build_number = m.group("commit"), int(m.group("number"))
            records = [
                replace(r, build_commit=build_commit, build_number=build_number) if not r.build_commit else r
                for r in records
            ]
            continue
        if not text.strip().startswith("|"):
            header = None if not text.strip() else header
            continue
        cells = _cells(text)
        if cells and cells[0].lower() == "model":
            header = [c.lower() for c in cells]
            for needed in ("test", "t/s"):
                if needed not in header:
                    raise _problem(
                        source,
                        number,
                        f"table header has no {needed!r} column",
                        expected="llama-bench's markdown header",
                    )
            continue
        if header is None or all(set(c) <= set("-: ") for c in cells):
            continue
        width = ("{cells} cells in a table of {columns} columns", "one cell per header column")
        row = _by_header(header, cells, source, number, width)
        test = parse_test_name(row["test"])
        if test is None:
            raise _problem(
                source, number, f"cannot read test {row['test']!r}", "test", "pp512, tg128, pp512+tg128"
            )
        rate = _RATE.match(row["t/s"])
        if not rate:
            raise _problem(source, number, f"cannot read tokens/s {row['t/s']!r}", "t/s", "'12.34 ± 0.56'")
        records.append(
            BenchRecord(
                line=number,
                avg_ts=float(rate.group("avg")),
                stddev_ts=float(rate.group("sd") or 0.0),
                n_prompt=test[0],
                n_gen=test[1],
                n_depth=test[2],
                model_type=row.get("model", ""),
                model_size=_size_bytes(row.get("size", "")),
                model_n_params=_params(row.get("params", "")),
                backend=row.get("backend", ""),
                n_gpu_layers=_int_or_none(row.get("ngl")),
                n_threads=_int_or_none(row.get("threads")),
                build_commit=build_commit,
                build_number=build_number,
            )
        )
    return records


def _size_bytes(text: str) -> int | None:
    m = _SIZE.match(text)
    return int(float(m.group(1)) * _UNITS[m.group(2)]) if m else None


def _params(text: str) -> int | None:
    m = _PARAMS.match(text)
    return int(float(m.group(1)) * _SCALE[m.group(2)]) if m else None


def _samples(raw: Any, number: int, source: str) -> tuple[float, ...]:
    """llama-bench's samples_ts (a JSON list of positive rates); () where the format has none."""
    if raw is None or raw == "":
        return ()
    expected = "a list of positive rates, one per repetition"
    if not isinstance(raw, list | tuple):
        raise _problem(source, number, f"samples_ts is {raw!r:.80}, not a list", "samples_ts", expected)
    try:
        samples = tuple(float(v) for v in raw if not isinstance(v, bool))
    except (TypeError, ValueError):
        raise _problem(source, number, f"samples_ts holds {raw!r:.80}", "samples_ts", expected) from None
    if len(samples) != len(raw) or not all(0 < v < math.inf for v in samples):
        raise _problem(source, number, f"samples_ts holds {raw!r:.80}", "samples_ts", expected)
    return samples


def _int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).strip().split(",")[0])
    except (TypeError, ValueError):
        return None


def _from_fields(values: dict[str, Any], number: int, source: str) -> BenchRecord:
    """A record from llama-bench's named fields (csv, json, jsonl, sql all share them)."""

    def num(name: str, kind: type = float, required: bool = False) -> Any:
        raw = values.get(name)
        if raw is None or raw == "":
            if required:
                raise _problem(source, number, f"missing field {name!r}", name, "llama-bench's fields")
            return None
        try:
            return kind(float(raw)) if kind is int else kind(raw)
        except (TypeError, ValueError):
            raise _problem(source, number, f"{name} is {raw!r}, not a number", name) from None

    avg = num("avg_ts", float, required=True)
    if avg <= 0:
        raise _problem(source, number, f"avg_ts {avg} is not a positive rate", "avg_ts")
    return BenchRecord(
        line=number,
        avg_ts=avg,
        stddev_ts=num("stddev_ts") or 0.0,
        samples_ts=_samples(values.get("samples_ts"), number, source),
        n_prompt=num("n_prompt", int) or 0,
        n_gen=num("n_gen", int) or 0,
        n_depth=num("n_depth", int) or 0,
        model_type=str(values.get("model_type") or ""),
        model_filename=str(values.get("model_filename") or ""),
        model_size=num("model_size", int),
        model_n_params=num("model_n_params", int),
        backend=str(values.get("backends") or values.get("backend") or ""),
        gpu_info=str(values.get("gpu_info") or ""),
        cpu_info=str(values.get("cpu_info") or ""),
        build_commit=str(values.get("build_commit") or ""),
        build_number=num("build_number", int),
        n_gpu_layers=num("n_gpu_layers", int),
        n_threads=num("n_threads", int),
        test_time=str(values.get("test_time") or ""),
        extra={k: v for k, v in values.items() if k in ("type_k", "flash_attn", "n_batch", "n_ubatch")},
    )


def _parse_csv(lines: list[str], source: str) -> list[BenchRecord]:
    start = next(i for i, t in enumerate(lines) if t.lstrip('"').startswith("build_commit"))
    reader = csv.reader(io.StringIO("\n".join(lines[start:])))
    header = next(reader)
    records = []
    for offset, row in enumerate(reader, start=1):
        number = start + 1 + offset
        if not row or not any(c.strip() for c in row):
            continue
        width = ("{cells} values for {columns} columns", "one value per header field")
        records.append(_from_fields(_by_header(header, row, source, number, width), number, source))
    return records


def _json_line_numbers(lines: list[str]) -> list[int]:
    """Line of each top-level object's opening brace in llama-bench's JSON array."""
    return [i for i, t in enumerate(lines, start=1) if t.startswith("  {")]


def _parse_json(lines: list[str], source: str) -> list[BenchRecord]:
    text = "\n".join(lines)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise _problem(
            source, error.lineno, f"not valid JSON: {error.msg}", expected="llama-bench -o json output"
        ) from None
    if not isinstance(data, list):
        raise _problem(source, 1, "JSON output is not a list of results", expected="a JSON array")
    numbers = _json_line_numbers(lines)
    records = []
    for index, item in enumerate(data):
        number = numbers[index] if index < len(numbers) else 1
        if not isinstance(item, dict):
            raise _problem(source, number, "result is not a JSON object")
        records.append(_from_fields(item, number, source))
    return records


def _lines_starting(lines: list[str], prefix: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of the lines that start with `prefix` after their indentation: the
    results; the rest of a log (llama.cpp's chatter, blank lines) is passed over."""
    return ((number, text) for number, text in enumerate(lines, start=1) if text.lstrip().startswith(prefix))


def _parse_jsonl(lines: list[str], source: str) -> list[BenchRecord]:
    records = []
    for number, text in _lines_starting(lines, "{"):
        try:
            item = json.loads(text)
        except json.JSONDecodeError as error:
            raise _problem(
                source, number, f"not valid JSON: {error.msg}", expected="one JSON object per line"
            ) from None
        if not isinstance(item, dict):
            raise _problem(source, number, "result is not a JSON object")
        records.append(_from_fields(item, number, source))
    return records


_INSERT = re.compile(r"^\s*INSERT INTO llama_bench\s*\((?P<cols>[^)]*)\)\s*VALUES\s*\((?P<vals>.*)\)\s*;\s*$")
_SQL_VALUE = re.compile(r"\s*'((?:[^']|'')*)'\s*(?:,|$)")


def _sql_values(text: str) -> list[str] | None:
    """The single-quoted values of an INSERT, parsed (never executed: a file is data, not code)."""
    values, pos = [], 0
    while pos < len(text):
        m = _SQL_VALUE.match(text, pos)
        if not m:
            return None
        values.append(m.group(1).replace("''", "'"))
        pos = m.end()
    return values


def _parse_sql(lines: list[str], source: str) -> list[BenchRecord]:
    records = []
    for number, text in _lines_starting(lines, "INSERT"):
        m = _INSERT.match(text)
        values = _sql_values(m.group("vals")) if m else None
        if not m or values is None:
            raise _problem(
                source,
                number,
                "cannot read INSERT statement",
                expected="INSERT INTO llama_bench (...) VALUES ('...', ...);",
            )
        columns = [c.strip() for c in m.group("cols").split(",")]
        if len(columns) != len(values):
            raise _problem(source, number, f"{len(values)} values for {len(columns)} columns")
        records.append(_from_fields(dict(zip(columns, values, strict=True)), number, source))
    return records


_OLLAMA = re.compile(
    r"^\s*(?P<key>prompt eval count|prompt eval rate|eval count|eval rate):\s*(?P<value>[\d.]+)"
)


def _parse_ollama(lines: list[str], source: str) -> list[BenchRecord]:
    """`ollama run MODEL --verbose` timings: each "eval rate" closes one run."""
    records = []
    counts: dict[str, int] = {}
    for number, text in enumerate(lines, start=1):
        m = _OLLAMA.match(text)
        if not m:
            continue
        key, value = m.group("key"), float(m.group("value"))
        if key.endswith("count"):
            counts[key] = int(value)
            continue
        if value <= 0:
            raise _problem(source, number, f"{key} {value} is not a positive rate", key)
        if key == "prompt eval rate":
            records.append(
                BenchRecord(
                    line=number,
                    avg_ts=value,
                    n_prompt=counts.get("prompt eval count", 0) or 1,
                    backend="ollama",
                )
            )
        else:
            records.append(
                BenchRecord(
                    line=number, avg_ts=value, n_gen=counts.get("eval count", 0) or 1, backend="ollama"
                )
            )
            counts = {}
    return records
