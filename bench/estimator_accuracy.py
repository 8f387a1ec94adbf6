"""Compare rigshift's estimates with published measurements.

    python bench/estimator_accuracy.py --reference CALIBRATION/llm_throughput.csv \
        --reference CALIBRATION/vram_usage.csv [--all-rows] [--bias]

Reads CSVs in the calibration format (throughput: source_url, gpu, backend, model, params_b,
quant, test, tokens_per_s, notes; memory: source_url, model, params_b, quant, context,
batch_or_parallel, measured_gib, runtime, notes) and prints, per test kind (decode, prefill,
memory) and per source: rows compared, median absolute % error and the share within ±25%, for
rigshift and, side by side, two simple anchors: the plain roofline (bandwidth ÷ weight bytes for
decode, FP16 rate ÷ 2·params for prefill) and GPUStack's memory rule (1.2 × weights + 2 GiB).
Rows reporting out-of-memory check that rigshift never says "fits" there.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from urllib.parse import urlparse

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.model_spec import ModelSpec
from rigshift.catalog.models import load_model
from rigshift.errors import RigshiftError
from rigshift.estimate import Hardware, Workload, estimate
from rigshift.estimate.memory import GIB
from rigshift.estimate.quants import quant_recipe
from rigshift.estimate.tensors import active_params, weight_bytes

# Models the measurements name that are not in the catalog (historic LLaMA 1/2), with the numbers
# of their published params.json / config.json (meta-llama/llama, huggingface configs).
HISTORIC_MODELS = {
    "llama 7b": ModelSpec(
        "llama-1-7b", "LLaMA 7B", "llama", "chat", 6.74, 32, 4096, 32, 32, 128, 11008, 32000, 2048
    ),
    "llama 13b": ModelSpec(
        "llama-1-13b", "LLaMA 13B", "llama", "chat", 13.0, 40, 5120, 40, 40, 128, 13824, 32000, 2048
    ),
    "llama 33b": ModelSpec(
        "llama-1-33b", "LLaMA 33B", "llama", "chat", 32.5, 60, 6656, 52, 52, 128, 17920, 32000, 2048
    ),
    "llama 65b": ModelSpec(
        "llama-1-65b", "LLaMA 65B", "llama", "chat", 65.2, 80, 8192, 64, 64, 128, 22016, 32000, 2048
    ),
    "llama-2 70b": ModelSpec(
        "llama-2-70b", "Llama 2 70B", "llama", "chat", 69.0, 80, 8192, 64, 8, 128, 28672, 32000, 4096
    ),
    "openllama 3b": ModelSpec(
        "open-llama-3b", "OpenLLaMA 3B", "llama", "chat", 3.43, 26, 3200, 32, 32, 100, 8640, 32000, 2048
    ),
}
HISTORIC_MODELS["koala 13b"] = HISTORIC_MODELS["llama 13b"]
HISTORIC_MODELS["wizardlm 33b"] = HISTORIC_MODELS["llama 33b"]

MODEL_NAMES = {
    "meta-llama-3-8b": "llama-3.1-8b",
    "meta-llama-3-70b": "llama-3.1-70b",
    "llama 3.2 3b": "llama-3.2-3b",
    "llama 3.1 70b": "llama-3.1-70b",
}


@dataclass
class Comparison:
    kind: str  # decode, prefill, memory
    source: str
    measured: float
    estimated: float
    anchor: float | None
    multi_gpu: bool

    @property
    def error(self) -> float:
        return (self.estimated - self.measured) / self.measured

    @property
    def anchor_error(self) -> float | None:
        return None if self.anchor is None else (self.anchor - self.measured) / self.measured


@dataclass
class Tally:
    rows: list[Comparison] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    oom_rows: int = 0
    oom_called_fit: list[str] = field(default_factory=list)


def source_name(url: str) -> str:
    parts = urlparse(url).path.strip("/").split("/")
    return "/".join(parts[:2]) if parts and parts[0] else url


def resolve_model(name: str) -> ModelSpec:
    key = name.strip().lower()
    if key in HISTORIC_MODELS:
        return HISTORIC_MODELS[key]
    key = MODEL_NAMES.get(key, key)
    key = re.sub(r"\s*\(.*\)$", "", key)
    return load_model(key)


def resolve_gpus(text: str) -> tuple[GpuSpec, int]:
    """'3090 24GB * 4' -> (RTX 3090, 4). Names are verbatim per source."""
    count = 1
    match = re.match(r"^(.*?)\s*\*\s*(\d+)\s*$", text)
    if match:
        text, count = match.group(1), int(match.group(2))
    if "+" in text:
        raise ValueError("mixed GPUs")
    vram_match = re.search(r"(\d+)\s*GB\b", text)
    vram = float(vram_match.group(1)) if vram_match else None
    name = re.sub(r"\s*\d+\s*GB\b", "", text).strip()
    name = re.sub(r"^(Nvidia|NVIDIA)\s+(?=\d)", "RTX ", name)
    name = re.sub(r"^(\d{4})", r"RTX \1", name)
    name = re.sub(r"^AMD\s+(?=\d)", "RX ", name)
    return gpu_catalog().resolve(name, vram_gib=vram), count


def runtime_for(backend: str, notes: str, spec: GpuSpec) -> str | None:
    if "vLLM table" in notes:
        return "vllm"
    if "Transformer table" in notes:
        return "transformers"
    if "exllama" in notes.lower() or "ExLlama" in notes:
        return "vllm"  # custom CUDA kernels with little per-layer overhead: closest profile
    if backend == "cuda":
        return "llama.cpp-cuda"
    if backend == "vulkan":
        return "llama.cpp-vulkan"
    if backend == "unspecified":
        return "llama.cpp-cuda" if spec.vendor == "nvidia" else "llama.cpp-vulkan"
    return None  # metal and others: no such GPUs in the catalog


def parse_test(test: str) -> tuple[str, int, int] | None:
    """('decode'|'prefill', tokens, depth)."""
    m = re.match(r"^(pp|tg)(\d+)(?:@d(\d+))?$", test)
    if m:
        return ("prefill" if m.group(1) == "pp" else "decode", int(m.group(2)), int(m.group(3) or 0))
    m = re.match(r"^gen(\d+)_after_input(\d+)$", test)
    if m:
        return ("decode", int(m.group(1)), int(m.group(2)))
    if test == "tg_eval_rate":
        return ("decode", 256, 0)
    return None


def flash_attention_of(row: dict[str, str]) -> bool | None:
    """llama-bench ran without flash attention until it became the default (2025); the 2024
    tables (XiongjieDai) used -fa 0. Other sources: the runtime's default."""
    return False if "XiongjieDai" in row["source_url"] else None


def quant_of(text: str) -> str:
    text = text.strip()
    if text.upper().startswith("GPTQ 4-BIT"):
        return "GPTQ-Int4"
    return text or "Q4_K_M"


def compare_throughput(rows: Iterable[dict[str, str]], tally: Tally) -> None:
    for row in rows:
        parsed = parse_test(row["test"])
        if parsed is None:
            tally.skipped[f"test {row['test']}"] += 1
            continue
        kind, tokens, depth = parsed
        try:
            spec, count = resolve_gpus(row["gpu"])
            model = resolve_model(row["model"])
        except (RigshiftError, ValueError) as error:
            tally.skipped[f"unmapped {str(error).splitlines()[0][:60]}"] += 1
            continue
        runtime = runtime_for(row["backend"], row["notes"], spec)
        if runtime is None:
            tally.skipped[f"backend {row['backend']}"] += 1
            continue
        quant = quant_of(row["quant"])
        try:
            quant_recipe(quant)
        except RigshiftError:
            tally.skipped[f"quant {quant}"] += 1
            continue
        split = "tensor" if runtime in ("vllm", "transformers") else "layer"
        hardware = Hardware.of(spec, count, split_mode=split)
        flash = flash_attention_of(row)
        if kind == "decode":
            avg_depth = depth + tokens // 2
            work = Workload(
                model,
                quant,
                context=max(avg_depth + tokens, 512),
                runtime=runtime,
                prompt_tokens=avg_depth,
                flash_attention=flash,
            )
        else:
            work = Workload(
                model,
                quant,
                context=max(depth + tokens, 512),
                runtime=runtime,
                prompt_tokens=tokens + 2 * depth,
                flash_attention=flash,
            )
        work = replace(work, model=replace(model, context_length=max(model.context_length, work.context)))
        try:
            result = estimate(work, hardware)
        except RigshiftError as error:
            tally.skipped[f"estimate error {error}"[:80]] += 1
            continue
        if not row["tokens_per_s"].strip():
            tally.oom_rows += 1
            if result.fits:
                tally.oom_called_fit.append(f"{row['gpu']} {row['model']} {quant} {row['test']}")
            continue
        measured = float(row["tokens_per_s"])
        recipe = quant_recipe(quant)
        if kind == "decode":
            estimated = result.decode_tokens_per_s
            anchor = (
                spec.mem_bandwidth_gbs * count * 1e9 / weight_bytes(model, recipe).total
                if split == "tensor"
                else (spec.mem_bandwidth_gbs * 1e9 / weight_bytes(model, recipe).total)
            )
        else:
            estimated = result.prefill_tokens_per_s
            anchor = max(spec.fp16_tflops, spec.fp32_tflops) * 1e12 / (2 * active_params(model))
        tally.rows.append(
            Comparison(kind, source_name(row["source_url"]), measured, estimated, anchor, count > 1)
        )


def compare_memory(rows: Iterable[dict[str, str]], tally: Tally) -> None:
    reference_gpu = gpu_catalog().resolve("A100 SXM4 80 GB")
    for row in rows:
        if not row["measured_gib"].strip():
            tally.skipped["memory row without a value"] += 1
            continue
        try:
            model = resolve_model(row["model"])
        except RigshiftError as error:
            tally.skipped[f"unmapped {str(error).splitlines()[0][:60]}"] += 1
            continue
        quant = quant_of(row["quant"]).upper().replace("Q4_0", "Q4_0")
        try:
            recipe = quant_recipe(quant)
        except RigshiftError:
            tally.skipped[f"quant {quant}"] += 1
            continue
        measured = float(row["measured_gib"])
        weights = weight_bytes(model, recipe).total / GIB
        gpustack = 1.2 * weights + 2
        if not row["context"].strip():
            tally.rows.append(
                Comparison("memory", source_name(row["source_url"]), measured, weights, weights, False)
            )
            continue
        # PyTorch rows count allocations only (weights, KV, activations): the transformers profile,
        # which adds no CUDA context.
        runtime = "llama.cpp-cuda" if "llama.cpp" in row["runtime"] else "transformers"
        context = int(row["context"])
        work = Workload(model, quant, context=max(context, 1), runtime=runtime)
        big = replace(reference_gpu, vram_gib=1024.0)
        result = estimate(work, Hardware.of(big))
        tally.rows.append(
            Comparison(
                "memory", source_name(row["source_url"]), measured, result.memory.total, gpustack, False
            )
        )


def summarise(rows: list[Comparison]) -> tuple[int, float, float, float | None, float | None]:
    errors = [abs(r.error) for r in rows]
    anchors = [abs(e) for r in rows if (e := r.anchor_error) is not None]
    within = sum(e <= 0.25 for e in errors) / len(errors)
    a_med = statistics.median(anchors) if anchors else None
    a_within = sum(e <= 0.25 for e in anchors) / len(anchors) if anchors else None
    return len(rows), statistics.median(errors), within, a_med, a_within


def report(tally: Tally, show_bias: bool) -> None:
    anchor_name = {"decode": "roofline", "prefill": "FP16 roofline", "memory": "GPUStack 1.2w+2"}
    print(
        f"{'kind':8} {'scope':7} {'source':46} {'rows':>5} {'median|err|':>11} {'±25%':>6}   anchor: median  ±25%"
    )
    for kind in ("decode", "prefill", "memory"):
        for scope, pick in (("single", False), ("multi", True)):
            rows = [r for r in tally.rows if r.kind == kind and r.multi_gpu == pick]
            if not rows:
                continue
            groups: dict[str, list[Comparison]] = defaultdict(list)
            for r in rows:
                groups[r.source].append(r)
            for source, group in [("ALL", rows), *sorted(groups.items())]:
                n, med, within, a_med, a_within = summarise(group)
                anchor = f"{anchor_name[kind]:>16}: {a_med:6.1%} {a_within:5.0%}" if a_med is not None else ""
                print(f"{kind:8} {scope:7} {source[:46]:46} {n:5d} {med:11.1%} {within:6.0%}   {anchor}")
                if show_bias and source != "ALL":
                    ratios = [r.measured / r.estimated for r in group]
                    print(f"{'':17} median measured/estimated = {statistics.median(ratios):.3f}")
    print(f"\nout-of-memory rows: {tally.oom_rows}, called 'fits' by rigshift: {len(tally.oom_called_fit)}")
    for line in tally.oom_called_fit:
        print(f"  FITS WRONGLY: {line}")
    skipped = sum(tally.skipped.values())
    print(f"skipped rows: {skipped}")
    for reason, n in sorted(tally.skipped.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {n:4d} {reason}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference", action="append", required=True, help="a calibration CSV (repeatable)")
    parser.add_argument(
        "--bias", action="store_true", help="print the median measured/estimated ratio per source"
    )
    parser.add_argument("--fit", action="store_true", help="re-derive the runtime efficiency factors")
    args = parser.parse_args(argv)
    from rigshift.estimate import speed

    if args.fit:  # fit from scratch: no architecture factors
        speed.ARCHITECTURE_PREFILL_FACTOR.clear()
    if args.fit:
        fit(args.reference)
        return 0
    tally = Tally()
    for path in args.reference:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        if rows and "host_notes" in rows[0]:  # mining_cards.csv: rows need judging, see that script
            from mining_priors import main as mining_main

            print(f"{path}: mining-card rows -> bench/mining_priors.py", file=sys.stderr)
            mining_main(["--reference", path])
            continue
        if rows and "tokens_per_s" in rows[0]:
            compare_throughput(rows, tally)
        elif rows and "measured_gib" in rows[0]:
            compare_memory(rows, tally)
        else:
            print(f"{path}: not a calibration CSV (no tokens_per_s or measured_gib column)", file=sys.stderr)
            return 2
    report(tally, args.bias)
    return 0


# --- fitting the runtime efficiency factors -------------------------------------------------
# `--fit` re-derives the factors in rigshift.estimate.runtimes.PROFILES from single-GPU rows:
# per runtime, decode efficiency for float and quantized weights and the per-layer overhead
# (grid search maximising the share within ±25%, then the median error), and prefill efficiency
# per arithmetic path (the median of estimated-at-100% ÷ measured time).


def _with_profile(runtime: str, **changes: float) -> None:
    from rigshift.estimate import runtimes

    runtimes.PROFILES[runtime] = replace(runtimes.PROFILES[runtime], **changes)


def fit(paths: list[str]) -> None:
    import numpy as np

    from rigshift.estimate import runtimes
    from rigshift.estimate.speed import matrix_rate

    rows = []
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            rows += [r for r in csv.DictReader(handle) if "tokens_per_s" in r and r["tokens_per_s"].strip()]
    original = dict(runtimes.PROFILES)
    decode: dict[str, list[tuple[float, float, float, bool]]] = defaultdict(list)
    prefill: dict[tuple[str, str], list[float]] = defaultdict(list)
    by_architecture: dict[tuple[str, str, str], list[tuple[str, float]]] = defaultdict(list)
    for row in rows:
        parsed = parse_test(row["test"])
        try:
            spec, count = resolve_gpus(row["gpu"])
            model = resolve_model(row["model"])
        except (RigshiftError, ValueError):
            continue
        runtime = runtime_for(row["backend"], row["notes"], spec)
        if parsed is None or runtime is None or count != 1:
            continue
        kind, tokens, depth = parsed
        quant = quant_of(row["quant"])
        recipe = quant_recipe(quant)
        measured_s = 1 / float(row["tokens_per_s"])
        model = replace(model, context_length=max(model.context_length, depth + tokens + 512))
        if kind == "decode":
            work = Workload(
                model, quant, context=depth + tokens + 512, runtime=runtime, prompt_tokens=depth + tokens // 2
            )
            times = []
            for eff in (1.0, 0.5):
                _with_profile(
                    runtime,
                    decode_efficiency_float=eff,
                    decode_efficiency_quantized=eff,
                    per_layer_overhead_us=0.0,
                )
                times.append(1 / estimate(work, Hardware.of(spec)).decode_tokens_per_s)
            bandwidth_s = times[1] - times[0]
            decode[runtime].append((bandwidth_s, model.n_layers, measured_s, recipe.family != "float"))
        else:
            work = Workload(
                model,
                quant,
                context=depth + tokens + 512,
                runtime=runtime,
                prompt_tokens=tokens + 2 * depth,
                flash_attention=flash_attention_of(row),
            )
            _with_profile(
                runtime, prefill_efficiency_int8=1.0, prefill_efficiency_fp16=1.0, per_layer_overhead_us=0.0
            )
            ideal_s = 1 / estimate(work, Hardware.of(spec)).prefill_tokens_per_s
            path = matrix_rate(spec, runtime, recipe).path_kind
            prefill[(runtime, path)].append(ideal_s / measured_s)
            by_architecture[(runtime, spec.architecture, path)].append((path, ideal_s / measured_s))
        runtimes.PROFILES.update(original)
    # A streaming kernel reaches at most ~92% of the spec-sheet bandwidth on GDDR6(X)/HBM cards
    # (the rest is refresh, bank conflicts, page switches): the grid stops there.
    effs = np.arange(0.30, 0.925, 0.01)
    taus = np.arange(0.0, 1500.0, 2.0)
    for runtime, samples in sorted(decode.items()):
        data = np.array([(b, n, m, q) for b, n, m, q in samples])
        best = None
        for quantized in (0.0, 1.0):
            pick = data[data[:, 3] == quantized]
            if not len(pick):
                continue
            b, n, m = pick[:, 0][:, None, None], pick[:, 1][:, None, None], pick[:, 2][:, None, None]
            est = b / effs[None, :, None] + n * taus[None, None, :] * 1e-6
            err = np.abs(est - m) / m  # relative error of time ~ of tokens/s for small errors
            within = (err <= 0.2).mean(axis=0)
            med = np.median(err, axis=0)
            score = within - med * 0.5
            i, j = np.unravel_index(np.argmax(score), score.shape)
            label = "quantized" if quantized else "float"
            print(
                f"decode  {runtime:16} {label:9} rows {len(pick):3d}: efficiency {effs[i]:.2f}, "
                f"per-layer overhead {taus[j]:.0f} µs (median err {med[i, j]:.1%}, within 20% {within[i, j]:.0%})"
            )
            best = best or (effs[i], taus[j])
    efficiency = {key: statistics.median(ratios) for key, ratios in prefill.items()}
    for (runtime, path), ratios in sorted(prefill.items()):
        print(
            f"prefill {runtime:16} {path:9} rows {len(ratios):3d}: efficiency {efficiency[(runtime, path)]:.3f}"
        )
    for (runtime, architecture, path_kind), samples in sorted(by_architecture.items()):
        relative = [ratio / efficiency[(runtime, path)] for path, ratio in samples]
        print(
            f"prefill {runtime:16} {architecture:13} {path_kind:5} rows {len(samples):3d}: "
            f"architecture factor {statistics.median(relative):.2f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
