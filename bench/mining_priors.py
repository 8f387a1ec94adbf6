"""Fit and check the architecture-class priors on published measurements of mining-era cards.

    python bench/mining_priors.py --reference CALIBRATION/mining_cards.csv [--fit] [--rows]

CALIBRATION is wherever the calibration set sits (a table of published measurements, each row
with its public source URL; it is not shipped with rigshift).

Reads mining_cards.csv (columns gpu, gpu_vram_gb, backend, model, quant, model_size_gib, test,
tokens_per_s, n_gpus, llama_cpp_build, host_notes, ...) and judges every row into a tier:
  bench   llama-bench pp/tg rows (fits factors);
  server  llama-server timings with the prompt length stated (fits factors);
  ollama  Ollama timings, often without the quant (fits a factor only where nothing better exists,
          and says so);
  check   multi-GPU and partial-offload rows: checked, never fitted;
  out     excluded, with the reason (suspect values, SYCL, mixed pairs, locked cards, unknown models,
          Gemma 4 E-series: per-layer embeddings no stand-in shape represents).
The repository's own example measurements (examples/bench/*, read through `rigshift bench import`'s
importer) join as tier `example`: never fitted, but every interval must cover them.

Interval coverage (printed on every run): per (runtime, class), the single-GPU rows (bench, server,
ollama, example) against the shipped estimate's interval: how far below and above the estimate
the slowest and fastest rows sit, and how many fall outside. `decode_low_pct` in priors.yaml is
the "below" figure rounded up, so that none does.

--fit prints, per (runtime, architecture class, quant family), the multiplier on the runtime's
decode / prefill efficiency that reproduces each row through the model (estimate/correction.py's
solve_ratio), their median, the 80th-percentile spread and the rows: paste into
src/rigshift/estimate/priors.yaml. Without --fit: the errors of the estimator as shipped, per class,
the partial-offload checks, and the leave-one-out check of the per-card correction.
llm_throughput.csv rows (the profiles' own fit) give the spread of the classes they cover.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.model_spec import ModelSpec
from rigshift.catalog.models import load_model
from rigshift.errors import RigshiftError
from rigshift.estimate import GpuSlot, Hardware, PcieLink, Workload, estimate, priors
from rigshift.estimate.correction import PRIOR_WEIGHT_ROWS, Correction, combine_ratios, solve_ratio
from rigshift.estimate.memory import GIB
from rigshift.estimate.priors import arch_class, quant_family, short_runtime
from rigshift.estimate.quants import quant_recipe

# Models the mining rows name that the catalog lacks, with their published config.json numbers.
EXTRA_MODELS = {
    "tinyllama": ModelSpec("tinyllama-1.1b", "TinyLlama 1.1B", "llama", "chat", 1.1, 22, 2048, 32, 4, 64, 5632, 32000, 2048),
    "llama-2-7b": ModelSpec("llama-2-7b", "Llama 2 7B", "llama", "chat", 6.74, 32, 4096, 32, 32, 128, 11008, 32000, 4096),
    "mistral-small-24b": ModelSpec("mistral-small-24b", "Mistral Small 24B 2501", "mistral", "chat", 23.57, 40, 5120, 32, 8, 128, 32768, 131072, 32768),
    "ministral-8b": ModelSpec("ministral-8b", "Ministral 8B 2410", "mistral", "chat", 8.02, 36, 4096, 32, 8, 128, 12288, 131072, 32768),
    "gpt-oss-20b": ModelSpec("gpt-oss-20b", "gpt-oss-20b", "gptoss", "chat", 20.9, 24, 2880, 64, 8, 64, 2880, 201088, 131072,
                             n_experts=32, n_active_experts=4, sliding_window=128, sliding_window_layers=12),
}  # fmt: skip
# (pattern on the row's model name, catalog or EXTRA key, stand-in?) — stand-ins: models the catalog
# lacks whose architecture is unpublished here; a catalog model of the same size class, resized to
# the row's file size where the row gives it.
MODEL_RULES = [
    (r"meta-llama-3-8b", "llama-3.1-8b", False),  # Llama 3 8B: the 3.1 shape (context aside)
    (r"qwen3-coder-30b|qwen3-vl-30b", "qwen3-30b-a3b", False),
    (r"qwen3\.8-27b", "qwen3-32b", True),
    (r"qwen3\.5-9b|qwen3\.5:9b", "qwen3-8b", True),
    (r"qwen3\.5-4b", "qwen3-4b", True),
    (r"lfm2\.5-1\.2b", "llama-3.2-1b", True),
    (r"ministral-3-3b", "llama-3.2-3b", True),
    (r"ministral-8b", "ministral-8b", False),
    (r"qwen3-4b|qwen3 4b|qwen3:4b", "qwen3-4b", False),
    (r"deepseek-r1-0528-qwen3-8b|deepseek-r1:8b|qwen3-8b|qwen3:8b", "qwen3-8b", False),
    (r"qwen3-14b", "qwen3-14b", False),
    (r"qwen2\.5-coder-14b", "qwen2.5-14b", False),
    (r"qwen2\.5-7b|qwen2\.5-coder:7b|qwen2\.5:latest", "qwen2.5-7b", False),
    (r"llama-3\.1-8b|llama 3\.1 8b|llama3\.1:8b", "llama-3.1-8b", False),
    (r"llama-3\.2-3b", "llama-3.2-3b", False),
    (r"mistral-small-24b", "mistral-small-24b", False),
    (r"mistral 7b|mistral:7b|mistral:latest", "mistral-7b-v0.3", False),
    (r"tinyllama", "tinyllama", False),
    (r"llama-2-7b|llama2:7b", "llama-2-7b", False),
    (r"gemma3:4b", "gemma-3-4b", False),
    (r"gemma 3 27b", "gemma-3-27b", False),
    (r"gpt-oss-20b", "gpt-oss-20b", False),
]
# Classes the runtime profiles were fitted on (llm_throughput.csv): not mining-era evidence.
PROFILE_CLASSES = ("ampere", "ada", "turing", "hopper", "volta")
GPU_NAMES = {"NVIDIA CMP 170HX (HBM2e unlocked to 64GB)": ("CMP 170HX", 64.0)}


@dataclass
class Row:
    index: int
    tier: str  # bench | server | ollama | check | out
    why: str
    kind: str = ""  # decode | prefill
    measured: float = 0.0
    spec: GpuSpec | None = None
    count: int = 1
    runtime: str = ""
    work: Workload | None = None
    hardware: Hardware | None = None
    klass: str = ""
    family: str = ""
    stand_in: bool = False
    source: str = ""


def _model(name: str) -> tuple[ModelSpec, bool] | None:
    low = name.lower()
    for pattern, key, stand_in in MODEL_RULES:
        if re.search(pattern, low):
            return (EXTRA_MODELS[key] if key in EXTRA_MODELS else load_model(key)), stand_in
    return None


# Ollama's default tags where the row does not state the quant: Q4_0 for the 2023-24 library
# entries (llama2:7b 3.8 GB, mistral:7b/latest 4.1 GB = 7.25B x 4.5 bits), Q4_K_M for later ones
# (llama3.1:8b 4.9 GB, qwen2.5:7b 4.7 GB, qwen3:8b 5.2 GB). From the library's listed sizes.
OLLAMA_Q4_0_TAGS = ("llama2:", "mistral:")


def _quant(text: str, backend: str, model: str = "", notes: str = "") -> str:
    stated = "not stated" not in text.lower()
    m = (
        re.search(r"(UD-)?(IQ\d_[A-Z]+|Q\d_K(?:_[SMLX]+)?|Q\d_\d|F16|MXFP4)", text.upper())
        if stated
        else None
    )
    if not m and ("Q4_0 at that time" in notes or model.lower().startswith(OLLAMA_Q4_0_TAGS)):
        return "Q4_0"
    if not m:
        return "Q4_K_M"  # Ollama's default tags since mid-2024 (not stated in the row: an assumption)
    q = m.group(2)
    q = {
        "Q6_K_L": "Q6_K",
        "Q4_K_XL": "Q4_K_M",
        "Q5_K_XL": "Q5_K_M",
        "Q2_K_XL": "Q2_K",
        "IQ3_XS": "IQ3_S",
    }.get(q, q)
    return q


def _int(pattern: str, text: str) -> int | None:
    m = re.search(pattern, text, re.IGNORECASE)
    return int(m.group(1).replace(",", "")) if m else None


def judge(index: int, r: dict[str, str]) -> Row:
    notes, backend, gpu = r["host_notes"], r["backend"], r["gpu"]
    value = r["tokens_per_s"].strip().lstrip("~")
    for flag, why in (
        ("SUSPECT", "flagged suspect by the source"),
        ("LOW CONFIDENCE", "non-standard log, flagged low confidence"),
        ("OVERCLOCKED", "overclocked card"),
        ("BEFORE Gen2 unlock", "card still locked (before the unlock), not comparable"),
    ):
        if flag in notes:
            return Row(index, "out", why)
    if "SYCL" in backend:
        return Row(index, "out", "SYCL backend (not a rigshift runtime)")
    if "+" in gpu:
        return Row(index, "out", "mixed GPU pair")
    if not value:
        return Row(index, "check", "out of memory")
    if re.search(r"gemma-4-e\d+b", r["model"].lower()):
        # Gemma 4 "E" (effective-size) models carry per-layer embedding tables that decode only
        # gathers rows from; the file (4.64 GiB at Q4_K_M) is ~1.9x the Qwen3.5-4B's, yet the same
        # cards run both at the same speed (rows 125/127, 124/126, 52/50). A stand-in resized to
        # the file reads all of it every token; without the published shape (not in our sources)
        # these rows cannot be modelled.
        return Row(index, "out", "Gemma 4 E-series: per-layer embeddings, no shape to model them")
    mapped = _model(r["model"])
    if mapped is None:
        return Row(index, "out", f"model {r['model']} not mapped")
    model, stand_in = mapped
    name, vram = GPU_NAMES.get(gpu, (gpu, float(r["gpu_vram_gb"] or 0) or None))
    try:
        spec = gpu_catalog().resolve(re.sub(r"^(NVIDIA|AMD|Intel)\s+", "", name), vram_gib=vram)
    except RigshiftError:
        try:
            spec = replace(gpu_catalog().resolve(re.sub(r"^(NVIDIA|AMD|Intel)\s+", "", name)), vram_gib=vram)
        except RigshiftError:
            return Row(index, "out", f"GPU {gpu} not in the catalog")
    if vram and abs(spec.vram_gib - vram) > 0.5:
        spec = replace(spec, vram_gib=vram)  # a memory-modded card: VRAM as reported
    b = backend.lower()
    runtime = "llama.cpp-vulkan" if "vulkan" in b else "llama.cpp-rocm" if "rocm" in b else "llama.cpp-cuda"
    test = r["test"]
    kind = "prefill" if test.startswith(("pp", "prompt")) else "decode"
    quant = _quant(r["quant"], backend, r["model"], notes)
    size = float(r["model_size_gib"]) if r["model_size_gib"].strip() else None
    if "gpt-oss" in r["model"]:
        quant, size = "MXFP4", size or (12.85 if "F16" in r["quant"] else 10.8)  # MXFP4 experts in every GGUF
    prompt = _int(r"([\d,]+)[- ]token prompt", notes) or _int(r"([\d,]+) prompt tokens", notes)
    prompt = prompt or _int(r"~(\d+)-token", notes) or _int(r"~([\d,]+)-token", test) or 512
    generated = _int(r"(\d+) (?:generated|output tokens)", notes) or _int(r"\((\d+) tok\)", test) or 128
    m = re.match(r"^(pp|tg)(\d+)$", test)
    if m:
        tokens = int(m.group(2))
        prompt, generated = (tokens, 0) if m.group(1) == "pp" else (0, tokens)
    count = int(r["n_gpus"] or 1)
    power = _int(r"power limit(?:ed to)? (\d+) ?W", notes) or _int(r"(\d+) W cap", notes)
    link = re.search(r"Gen(\d) x(\d+)", notes)
    pcie = PcieLink(int(link.group(1)), int(link.group(2))) if link else None
    split = "tensor" if "-sm tensor" in notes or "--split-mode tensor" in notes else "layer"
    slot = GpuSlot(spec, pcie, power_limit_w=float(power) if power else None)
    # Hosts of the partial-offload rows: DDR5-6000 dual channel (Ryzen 9 9900X, 12 cores) is stated;
    # the RTX 3080 row's Windows desktop is not: dual-channel DDR4 and 8 threads assumed.
    host = (70.0, 12) if "DDR5" in notes else (40.0, 8) if "PARTIAL" in notes else (20.0, 2)
    hardware = Hardware(
        gpus=tuple(slot for _ in range(count)), split_mode=split,  # type: ignore[arg-type]
        host_bandwidth_gbs=host[0], host_threads=host[1],
    )  # fmt: skip
    ngl: int | str | None = _int(r"ngl (\d+)\b", notes) if "PARTIAL" in notes else None
    if "likely partial" in notes:
        ngl = "auto"
    depth = prompt + generated // 2 if kind == "decode" else prompt
    context = max(4096, prompt + generated + 64)
    model = replace(model, context_length=max(model.context_length, context))
    work = Workload(
        model, quant, context=context, runtime=runtime, prompt_tokens=max(1, depth),
        weights_bytes=int(size * GIB) if size else None, gpu_layers=ngl,
    )  # fmt: skip
    tier = (
        "check" if count > 1 or ngl is not None
        else "ollama" if "ollama" in b
        else "bench" if m
        else "server"
    )  # fmt: skip
    why = (
        "multi-GPU"
        if count > 1
        else f"partial offload ({'auto' if ngl == 'auto' else 'ngl given'})"
        if ngl is not None
        else ""
    )
    if kind == "prefill" and not m and prompt == 512 and tier != "check":
        tier, why = "check", "prompt length not stated"
    if kind == "prefill" and tier == "ollama":
        tier, why = "check", "Ollama prompt timing (short prompts: latency-bound)"
    return Row(
        index, tier, why, kind, float(value), spec, count, runtime, work, hardware,
        arch_class(spec, runtime), quant_family(quant_recipe(quant)), stand_in, r["source_url"],
    )  # fmt: skip


# The repository's own llama-bench example(s): (file, the card it names), read by the importer.
EXAMPLES = (("examples/bench/llama-bench_rx570_vulkan.md", "RX 570 8GB"),)


def example_rows(root: Path) -> list[Row]:
    from rigshift.measure.calibrate import conditions
    from rigshift.measure.importer import ImportDefaults, import_files

    rows = []
    for index, (name, gpu) in enumerate(EXAMPLES):
        for m in import_files([root / name], ImportDefaults(gpu=gpu), measured_at=0.0):
            if m.kind not in ("decode", "prefill"):
                continue
            work, hardware = conditions(m)
            spec = hardware.gpus[0].spec
            rows.append(
                Row(
                    -1 - index, "example", f"repository example {Path(name).name}", m.kind,
                    m.tokens_per_s, spec, 1, m.runtime, work, hardware, arch_class(spec, m.runtime),
                    quant_family(quant_recipe(m.quant)), False, name,
                )
            )  # fmt: skip
    return rows


def coverage(rows: list[Row]) -> None:
    """Does each shipped interval hold every single-GPU row of its class (the example included)?"""
    by_class: dict[tuple[str, str, str], list[tuple[float, float, float, float]]] = defaultdict(list)
    for row in rows:
        if row.tier not in ("bench", "server", "ollama", "example") or row.work is None:
            continue
        assert row.hardware is not None
        result = estimate(row.work, row.hardware)
        est = result.decode_tokens_per_s if row.kind == "decode" else result.prefill_tokens_per_s
        low, high = result.provenance.interval
        if row.kind == "prefill":  # the prefill interval: the same relative span
            low, high = est * low / result.decode_tokens_per_s, est * high / result.decode_tokens_per_s
        by_class[(row.kind, row.runtime, row.klass)].append((row.measured, est, low, high))
    print("interval coverage: rows of each class against the shipped estimate's interval")
    print(f"{'kind':8} {'class':28} {'rows':>4} {'slowest below':>13} {'fastest above':>13} {'outside':>7}")
    for (kind, runtime, klass), members in sorted(by_class.items()):
        below = max(est / measured - 1 for measured, est, _, _ in members) * 100
        above = max(measured / est - 1 for measured, est, _, _ in members) * 100
        outside = sum(not (lo * 0.999 <= measured <= hi * 1.001) for measured, _, lo, hi in members)
        print(f"{kind:8} {klass + '/' + short_runtime(runtime):28} {len(members):4d} {below:12.0f}% "
              f"{above:12.0f}% {outside:7d}")  # fmt: skip


def predicted(row: Row, correction: Correction | None = None) -> float:
    assert row.work is not None and row.hardware is not None
    result = estimate(row.work, row.hardware, correction)
    return result.decode_tokens_per_s if row.kind == "decode" else result.prefill_tokens_per_s


def row_ratio(row: Row) -> float:
    """The multiplier on the efficiency that reproduces the row through the model."""
    if row.kind == "decode":
        return solve_ratio(lambda c: predicted(row, Correction(decode=c)), row.measured)
    return solve_ratio(lambda c: predicted(row, Correction(prefill=c)), row.measured)


def _spread(logs: list[float]) -> float:
    """80th percentile of |log residual|, as a ± percentage."""
    if not logs:
        return 0.0
    ordered = sorted(abs(x) for x in logs)
    k = min(len(ordered) - 1, math.ceil(0.8 * len(ordered)) - 1)
    return (math.exp(ordered[k]) - 1) * 100


def load(path: str) -> list[Row]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [judge(i, r) for i, r in enumerate(csv.DictReader(handle))]


def fit(rows: list[Row]) -> None:
    priors.NEUTRAL = True
    groups: dict[tuple[str, str, str, str], list[tuple[Row, float]]] = defaultdict(list)
    for row in rows:
        if row.tier in ("bench", "server", "ollama"):
            ratio = row_ratio(row)
            for fam in (row.family, "*"):
                groups[(row.runtime, row.klass, fam, row.kind)].append((row, ratio))
    priors.NEUTRAL = False
    print("# runtime, class, quant, kind: factor (rows by tier) spread  rows")
    class_logs = []
    for key, members in sorted(groups.items()):
        strong = [(r, x) for r, x in members if r.tier != "ollama"]
        used = strong or members
        logs = [math.log(x) for _, x in used]
        factor = math.exp(statistics.median(logs))
        spread = _spread([v - math.log(factor) for v in logs])
        tiers = ",".join(f"{t}:{sum(r.tier == t for r, _ in used)}" for t in ("bench", "server", "ollama"))
        ids = " ".join(str(r.index) for r, _ in used)
        if key[2] == "*" and key[3] == "decode" and key[1] not in PROFILE_CLASSES:
            class_logs.append(math.log(factor))
        print(
            f"{key[0]:17} {key[1]:12} {key[2]:7} {key[3]:7} factor {factor:5.2f} ({tiers}) ±{spread:4.0f}%  rows {ids}"
        )

    # How far the bare model is off for a class nobody has measured: the spread of the fitted
    # mining-era classes' own factors around 1.0 (80th percentile, like every other spread).
    print(f"uncalibrated spread: ±{_spread(class_logs):.0f}% (80th percentile of |log factor| over "
          f"{len(class_logs)} fitted mining-era (runtime, class) decode factors)")  # fmt: skip


def check(rows: list[Row], show_rows: bool) -> None:
    errors: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row.tier == "out" or row.work is None:
            continue
        est = predicted(row)
        err = (est - row.measured) / row.measured
        label = f"{row.kind}/{row.tier}"
        if row.tier in ("bench", "server", "ollama"):
            errors[f"{row.kind} ALL"].append(err)
            errors[f"{row.kind} {row.klass}/{short_runtime(row.runtime)}"].append(err)
            if row.klass.split("-")[0] in ("polaris", "pascal") or "cmp" in row.klass:
                errors[f"{row.kind} polaris+pascal+cmp"].append(err)
        else:
            errors[f"{row.kind} check:{row.why}"].append(err)
        if show_rows:
            print(f"  row {row.index:3d} {label:15} {row.klass:11} {row.spec.name if row.spec else '':28.28} "
                  f"{row.work.model.key:18.18} {row.work.quant:7} measured {row.measured:8.1f} est {est:8.1f} ({err:+.0%})")  # fmt: skip
    print(f"{'scope':40} {'rows':>4} {'median|err|':>11} {'within 25%':>10}")
    for key in sorted(errors):
        e = [abs(x) for x in errors[key]]
        print(f"{key:40} {len(e):4d} {statistics.median(e):11.1%} {sum(x <= 0.25 for x in e) / len(e):10.0%}")
    out = defaultdict(int)
    for row in rows:
        if row.tier == "out":
            out[row.why] += 1
    print(
        "excluded rows: " + "; ".join(f"{n} {why}" for why, n in sorted(out.items(), key=lambda kv: -kv[1]))
    )


def leave_one_out(
    rows: list[Row], same_source: bool, catalog_shapes: bool = False, prior_rows: float = PRIOR_WEIGHT_ROWS
) -> None:
    """Given one measured row per (card, runtime, kind), predict the card's other rows; with
    `same_source`, only rows of the same source (one tool, build and host: what `rigshift bench`
    on the operator's rig gives); with `catalog_shapes`, only rows whose model the catalog has
    (no stand-in shapes) and no Ollama prompt timings."""
    by_card: dict[tuple[str, ...], list[Row]] = defaultdict(list)
    for row in rows:
        if catalog_shapes and row.stand_in:
            continue
        if row.tier in ("bench", "server", "ollama") and row.spec is not None:
            key = (row.spec.key, row.runtime, row.kind) + ((row.source,) if same_source else ())
            by_card[key].append(row)
    errs: list[float] = []
    prior_errs: list[float] = []
    per_card = []
    for key, members in sorted(by_card.items()):
        if len(members) < 2:
            continue
        card_errs = []
        for known in members:
            # the measured/prior ratio through the model, shrunk toward the prior (correction.py)
            ratio = combine_ratios([row_ratio(known)], prior_rows=prior_rows)
            corr = Correction(decode=ratio) if known.kind == "decode" else Correction(prefill=ratio)
            for other in members:
                if other is known:
                    continue
                est = predicted(other, corr)
                card_errs.append(abs(est - other.measured) / other.measured)
                prior_errs.append(abs(predicted(other) - other.measured) / other.measured)
        errs += card_errs
        per_card.append((key, len(members), statistics.median(card_errs)))
    for (card, runtime, kind, *_), n, med in per_card:
        print(f"  {card:26} {short_runtime(runtime):7} {kind:7} rows {n:2d}: median |err| {med:.1%}")
    scope = "same (card, runtime, source)" if same_source else "same (card, runtime), any source"
    scope += ", catalog shapes only" if catalog_shapes else ""
    scope += f", prior weight {prior_rows:g} rows"
    print(f"leave-one-out, {scope}: {len(errs)} predictions, median |err| {statistics.median(errs):.1%} "
          f"(prior alone on the same rows: {statistics.median(prior_errs):.1%})")  # fmt: skip


def leave_one_source_out(rows: list[Row]) -> None:
    """The priors' real test: every row predicted by factors fitted without its own source.

    Per row, the multiplier that reproduces it (bare model); a row's out-of-source factor is the
    median multiplier of its (runtime, class, kind) group's rows from other sources, or 1.0
    (uncalibrated) where no other source has that class."""
    fitted = [r for r in rows if r.tier in ("bench", "server", "ollama")]
    priors.NEUTRAL = True
    try:
        ratios = {r.index: row_ratio(r) for r in fitted}
        errors: dict[str, list[float]] = defaultdict(list)
        for row in fitted:
            others = [
                math.log(ratios[o.index]) for o in fitted
                if (o.runtime, o.klass, o.kind) == (row.runtime, row.klass, row.kind) and o.source != row.source
            ]  # fmt: skip
            factor = math.exp(statistics.median(others)) if others else 1.0
            corr = Correction(decode=factor) if row.kind == "decode" else Correction(prefill=factor)
            err = abs(predicted(row, corr) - row.measured) / row.measured
            errors[f"{row.kind} ALL"].append(err)
            errors[
                f"{row.kind} {row.klass}/{short_runtime(row.runtime)}{'' if others else ' (no other source)'}"
            ].append(err)
    finally:
        priors.NEUTRAL = False
    print("leave-one-source-out (priors refitted without each row's source):")
    for key in sorted(errors):
        e = errors[key]
        print(f"  {key:45} {len(e):4d} rows  median |err| {statistics.median(e):6.1%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference", required=True, help="mining_cards.csv")
    parser.add_argument("--fit", action="store_true", help="print the factors per (runtime, class, quant)")
    parser.add_argument("--rows", action="store_true", help="print every row's estimate")
    parser.add_argument(
        "--bare", action="store_true", help="check the bare physical model (all priors 1.0): the baseline"
    )
    args = parser.parse_args(argv)
    rows = load(args.reference) + example_rows(Path(__file__).resolve().parents[1])
    if args.fit:
        fit(rows)
        return 0
    if args.bare:
        priors.NEUTRAL = True
        print("BASELINE: bare model, every prior 1.0")
        check(rows, args.rows)
        priors.NEUTRAL = False
        return 0
    check(rows, args.rows)
    coverage(rows)
    leave_one_out(rows, same_source=False, prior_rows=0.0)
    leave_one_out(rows, same_source=False)
    leave_one_out(rows, same_source=True)
    leave_one_out(rows, same_source=False, catalog_shapes=True)
    leave_one_source_out(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
