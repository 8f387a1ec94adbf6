"""`rigshift bench import`: llama-bench/Ollama results mapped to the catalogs as `Measurement`s.

What the file says wins (device lines, gpu_info, backends, model_type, model_filename); the flags
fill in what it does not say (Ollama prints no GPU or model; a markdown table names no GPU unless
the device lines were pasted with it). A name that matches nothing is an error naming the file,
the line and the closest catalog names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.model_spec import ModelSpec
from rigshift.catalog.models import model_catalog, normalise_model_name
from rigshift.errors import InputError, Problem, UnknownNameError
from rigshift.estimate.quants import RECIPES
from rigshift.estimate.runtimes import RUNTIMES, default_runtime
from rigshift.measure.formats import BenchRecord, LogFacts, parse_bench_text
from rigshift.measure.types import HOST_CARD_KEY, Measurement
from rigshift.measure.validate import implausible
from rigshift.readers import read_text
from rigshift.suggest import did_you_mean

# llama-bench's backend names (ggml backend registry) -> rigshift runtimes.
BACKENDS = {
    "cuda": "llama.cpp-cuda",
    "vulkan": "llama.cpp-vulkan",
    "rocm": "llama.cpp-rocm",
    "hip": "llama.cpp-rocm",
    "cpu": "llama.cpp-cpu",
    "blas": "llama.cpp-cpu",
}
# Backends that only help the main one (RPC to another host) are skipped when naming it.
_HELPERS = {"rpc"}

# llama_model_ftype_name() -> quant names: "Q4_K - Medium" -> Q4_K_M, "IQ4_XS - 4.25 bpw" -> IQ4_XS.
_FTYPE_SIZE = {"small": "S", "medium": "M", "large": "L"}
_FILENAME_QUANT = re.compile(
    r"(?:^|[-_.])((?:I?Q\d_[A-Z0-9_]+|Q\d_\d|BF16|F16|F32|MXFP4))(?:\.gguf)?$", re.IGNORECASE
)


@dataclass(frozen=True)
class ImportDefaults:
    """What the flags say, used where the file is silent."""

    gpu: str | None = None
    runtime: str | None = None
    model: str | None = None
    quant: str | None = None


def import_files(paths: list[Path], defaults: ImportDefaults, measured_at: float) -> list[Measurement]:
    """Every result of every file, mapped; the first bad line stops the import (nothing stored)."""
    out: list[Measurement] = []
    for path in paths:
        text = read_text(path, "llama-bench output (markdown, CSV, JSON or JSONL)")
        records, facts = parse_bench_text(text, str(path))
        for r in records:
            row = to_measurement(r, facts, defaults, f"import {path.name}:{r.line}", measured_at, str(path))
            why = implausible(row)
            if why:  # a rate no card reaches: refused, with the line that holds it
                raise InputError(Problem(why, source=str(path), location=f"line {r.line}", field="avg_ts"))
            out.append(row)
    return out


def to_measurement(
    record: BenchRecord,
    facts: LogFacts,
    defaults: ImportDefaults,
    source: str,
    measured_at: float,
    file: str = "",
) -> Measurement:
    where = {"source": file or None, "location": f"line {record.line}"}
    try:
        runtime = _runtime(record, facts, defaults)
        quant = _quant(record, defaults)
        model = _model(record, defaults)
        if runtime == "llama.cpp-cpu" or (
            runtime is None and not (record.gpu_info or facts.gpus or defaults.gpu)
        ):
            runtime = runtime or "llama.cpp-cpu"
            card_key, card_name, vram = HOST_CARD_KEY, record.cpu_info or "host CPU", None
        else:
            spec, card_name = _gpu(record, facts, defaults)
            runtime = runtime or default_runtime(spec)
            card_key, vram = spec.key, spec.vram_gib
    except InputError as error:
        raise type(error)(
            [
                Problem(p.message, field=p.field, expected=p.expected, suggestions=p.suggestions, **where)
                for p in error.problems
            ]
        ) from None
    build = record.build_commit or facts.build_commit
    number = record.build_number if record.build_number is not None else facts.build_number
    return Measurement(
        card_key=card_key,
        card_name=card_name,
        runtime=runtime,
        model_key=model.key,
        quant=quant,
        n_prompt=record.n_prompt,
        n_gen=record.n_gen,
        n_depth=record.n_depth,
        tokens_per_s=record.avg_ts,
        stddev_tokens_per_s=record.stddev_ts,
        samples_tokens_per_s=record.samples_ts,
        vram_gib=vram,
        runtime_build=f"{build} ({number})" if build else None,
        n_gpu_layers=record.n_gpu_layers,
        n_threads=record.n_threads,
        source=source,
        measured_at=measured_at,
    )


def runtime_of_backend(backend: str) -> str | None:
    """'CUDA' -> llama.cpp-cuda; 'RPC,Vulkan' -> llama.cpp-vulkan; '' -> None; unknown -> error."""
    names = [b.strip() for b in re.split(r"[,+]", backend) if b.strip()]
    names = [n for n in names if n.lower() not in _HELPERS] or names
    if not names:
        return None
    first = names[0].split()[0].lower()  # "Vulkan (PR)" as a user labelled it
    if first in BACKENDS:
        return BACKENDS[first]
    if first == "ollama":
        return None
    raise UnknownNameError(
        Problem(
            f"backend {names[0]!r} is not a runtime rigshift models",
            field="backend",
            expected="CUDA, Vulkan, ROCm or CPU (or --runtime " + " | ".join(RUNTIMES) + ")",
            suggestions=did_you_mean(names[0], ["CUDA", "Vulkan", "ROCm", "CPU"]),
        )
    )


def _runtime(record: BenchRecord, facts: LogFacts, defaults: ImportDefaults) -> str | None:
    found = runtime_of_backend(record.backend) or runtime_of_backend(facts.backend)
    if found:
        return found
    if defaults.runtime:
        if defaults.runtime not in RUNTIMES:
            from rigshift.suggest import unknown_choice

            raise unknown_choice("runtime", defaults.runtime, RUNTIMES)
        return defaults.runtime
    return None


def quant_of_ftype(text: str) -> str | None:
    """The quant in llama.cpp's model description ('llama 8B Q4_K - Medium') or a file name."""
    parts = text.split()
    for i, word in enumerate(parts):
        upper = word.upper()
        if upper in ("F32", "F16", "BF16") or re.fullmatch(r"I?Q\d_\w+|MXFP4", upper):
            rest = " ".join(parts[i + 1 :]).lower()
            size = re.match(r"-\s*(small|medium|large)", rest)
            name = upper + ("_" + _FTYPE_SIZE[size.group(1)] if size else "")
            if name == "IQ2_XS" and "2.7" in rest:  # llama.cpp names IQ2_M "IQ2_M - 2.7 bpw"
                name = "IQ2_M"
            return name
    m = _FILENAME_QUANT.search(Path(text).name.removesuffix(".gguf"))
    return m.group(1).upper() if m else None


def _quant(record: BenchRecord, defaults: ImportDefaults) -> str:
    found = quant_of_ftype(record.model_type) or quant_of_ftype(record.model_filename) or defaults.quant
    if not found:
        raise InputError(
            "the file does not name the quantization", field="quant", expected="--quant, e.g. Q4_K_M"
        )
    key = found.upper()
    if key not in {k.upper() for k in RECIPES}:
        raise UnknownNameError(
            Problem(
                f"unknown quantization {found!r}", field="quant", suggestions=did_you_mean(found, RECIPES)
            )
        )
    return next(k for k in RECIPES if k.upper() == key)


def _model(record: BenchRecord, defaults: ImportDefaults) -> ModelSpec:
    catalog = model_catalog()
    if defaults.model:
        spec = catalog.get(defaults.model)
        if record.model_n_params and not 0.8 <= record.model_n_params / (spec.params_b * 1e9) <= 1.25:
            raise InputError(
                f"--model {spec.key} has {spec.params_b:.2f} B parameters; the file says "
                f"{record.model_n_params / 1e9:.2f} B",
                field="model",
                expected="the model that was benchmarked",
            )
        return spec
    if record.model_filename:
        stem = Path(record.model_filename).name.removesuffix(".gguf")
        quant = _FILENAME_QUANT.search(stem)
        base = stem[: quant.start()] if quant else stem
        for name in (stem, base):
            try:
                return catalog.get(normalise_model_name(name))
            except UnknownNameError:
                continue
    return _model_by_shape(record)


def _model_by_shape(record: BenchRecord) -> ModelSpec:
    """'qwen2 7B Q4_K - Medium' with 7.62 B params -> the qwen2 model of nearest size."""
    arch = record.model_type.split()[0].lower() if record.model_type else ""
    params = record.model_n_params
    candidates = [s for s in model_catalog().all() if s.architecture == arch and s.kind == "chat"]
    if arch == "llama":  # Mistral 7B/Nemo are llama-architecture GGUFs
        candidates += [s for s in model_catalog().all() if s.architecture == "mistral"]
    if candidates and params:
        best = min(candidates, key=lambda s: abs(s.params_b * 1e9 - params) / params)
        if abs(best.params_b * 1e9 - params) / params <= 0.08:
            return best
    described = record.model_type or record.model_filename or "(no model named)"
    raise UnknownNameError(
        Problem(
            f"cannot tell which catalog model {described!r} is",
            field="model",
            expected="--model NAME (a catalog model of this shape)",
            suggestions=tuple(
                s.key for s in sorted(candidates, key=lambda s: abs(s.params_b * 1e9 - (params or 0)))[:5]
            ),
        )
    )


_GPU_NOISE = re.compile(r"\s+Series\b|\s*\(.*?\)", re.IGNORECASE)
_VRAM_SUFFIX = re.compile(r"\s*(\d+(?:\.\d+)?)\s*G(?:i?B)?\s*$", re.IGNORECASE)


def _resolve_gpu(name: str, vram: float | None) -> GpuSpec:
    return gpu_catalog().resolve(_GPU_NOISE.sub("", name).strip(), vram_gib=vram)


def _gpu(record: BenchRecord, facts: LogFacts, defaults: ImportDefaults) -> tuple[GpuSpec, str]:
    reported = (record.gpu_info.split(",")[0].strip() if record.gpu_info else "") or (
        facts.gpus[0] if facts.gpus else ""
    )
    flag_spec = None
    flag_vram = None
    if defaults.gpu:
        m = _VRAM_SUFFIX.search(defaults.gpu)
        flag_vram = float(m.group(1)) if m else None
        name = defaults.gpu[: m.start()] if m and m.start() > 0 else defaults.gpu
        flag_spec = gpu_catalog().resolve(name.strip(), vram_gib=flag_vram)
    if not reported:
        if flag_spec is None:
            raise InputError(
                "the file does not name the GPU", field="gpu", expected='--gpu NAME, e.g. "RX 580 8GB"'
            )
        return flag_spec, defaults.gpu or flag_spec.name
    vram = facts.vram_mib / 1024 if facts.vram_mib else None
    spec = _resolve_gpu(reported, None if flag_spec else vram)
    if flag_spec is not None and _base_name(flag_spec.name) != _base_name(spec.name):
        raise InputError(
            f"the file reports {reported!r}, --gpu says {defaults.gpu!r}",
            field="gpu",
            expected="--gpu naming the card the file was measured on (its VRAM variant, say)",
        )
    return flag_spec or spec, _clean(reported)


def _base_name(name: str) -> str:
    """'AMD Radeon RX 570 8 GB' -> 'AMD Radeon RX 570': the chip, whatever its VRAM variant."""
    return re.sub(r"\s+\d+(?:\.\d+)?\s*GB$", "", name)


def _clean(name: str) -> str:
    return re.sub(r"\s*\((?:RADV|radv)[^)]*\)", "", name).strip()
