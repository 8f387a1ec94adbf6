"""The estimate: does a workload fit on some GPUs, and how fast does it run there."""

from __future__ import annotations

from collections.abc import Callable

from rigshift.errors import InputError, Problem
from rigshift.estimate.correction import Correction, corrected_spread
from rigshift.estimate.memory import GIB, MemoryLayout, memory_layout
from rigshift.estimate.power import speed_factor_at_power_limit
from rigshift.estimate.priors import Prior, prior_for, prior_table
from rigshift.estimate.provenance import Provenance, prior_provenance
from rigshift.estimate.quants import QuantRecipe, kv_bytes_per_element, quant_recipe
from rigshift.estimate.runtimes import default_runtime, runtime_profile, runtime_support
from rigshift.estimate.speed import Scale, decode_step_seconds, prefill_tokens_per_s, split_seconds
from rigshift.estimate.tensors import weight_bytes
from rigshift.estimate.types import Estimate, Hardware, MemoryEstimate, Workload

MAX_PARALLEL = 256
GGUF_ONLY_RUNTIMES = ("llama.cpp-cuda", "llama.cpp-vulkan", "llama.cpp-rocm", "llama.cpp-cpu")


def validate(workload: Workload, hardware: Hardware) -> None:
    problems = []
    if workload.context < 1:
        problems.append(Problem(f"context must be at least 1 token, got {workload.context}", field="context"))
    if not 1 <= workload.parallel <= MAX_PARALLEL:
        problems.append(
            Problem(f"parallel must be 1..{MAX_PARALLEL}, got {workload.parallel}", field="parallel")
        )
    if not hardware.gpus:
        problems.append(Problem("no GPU given", field="gpus", expected="at least one GPU"))
    if hardware.tensor_split and len(hardware.tensor_split) != len(hardware.gpus):
        problems.append(
            Problem(
                f"{len(hardware.tensor_split)} tensor-split ratios for {len(hardware.gpus)} GPUs",
                field="tensor_split",
                expected="one ratio per GPU",
            )
        )
    if hardware.tensor_split and (
        any(r < 0 for r in hardware.tensor_split) or not any(hardware.tensor_split)
    ):
        problems.append(Problem("tensor-split ratios must be ≥ 0 and not all 0", field="tensor_split"))
    layers = workload.gpu_layers
    if layers is not None and layers != "auto" and (not isinstance(layers, int) or layers < 0):
        problems.append(Problem(f"gpu layers must be >= 0 or 'auto', got {layers!r}", field="gpu_layers"))
    if hardware.host_bandwidth_gbs <= 0:
        problems.append(Problem("host bandwidth must be > 0 GB/s", field="host_bandwidth_gbs"))
    if hardware.host_threads < 1:
        problems.append(Problem("host threads must be >= 1", field="host_threads"))
    kv_bytes_per_element(workload.kv_type)
    if problems:
        raise InputError(problems)


def _largest(fits: Callable[[int], bool], low: int, high: int, guess: int | None = None) -> int:
    """Largest n in [low, high] with fits(n), assuming fits is monotone decreasing; low-1 if none.

    A `guess` that is right (fits, and guess+1 does not) is confirmed in two checks; otherwise
    (or without one) a binary search decides.
    """
    if guess is not None and low <= guess <= high and fits(guess) and (guess == high or not fits(guess + 1)):
        return guess
    if not fits(low):
        return low - 1
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return low


def _affine_guess(layout_at: Callable[[int], MemoryLayout], low: int, high: int) -> int:
    """Where memory, taken as affine in x between `low` and `high`, first exceeds a GPU.

    KV cache grows linearly with context and with parallel sequences, so this is exact unless
    sliding-window layers bend the line; `_largest` checks it either way.
    """
    first, last = layout_at(low), layout_at(high)
    best = high
    for need_low, need_high, capacity in zip(first.needs, last.needs, first.capacities, strict=True):
        slope = (need_high - need_low) / (high - low) if high > low else 0.0
        if slope > 0:
            best = min(best, low + int((capacity - need_low) // slope))
    return max(low, best)


def _runtime_problem(workload: Workload, hardware: Hardware, runtime: str, recipe: QuantRecipe) -> str | None:
    for slot in hardware.gpus:
        ok, why = runtime_support(slot.spec, runtime)
        if not ok:
            return why
    if runtime in GGUF_ONLY_RUNTIMES and recipe.family in ("gptq", "awq", "fp8"):
        return f"{recipe.name} is not a GGUF format; llama.cpp runs GGUF quantizations (e.g. Q4_K_M)"
    if runtime == "vllm":
        if recipe.family == "gguf" and recipe.name not in ("Q4_K_M", "Q8_0", "Q4_0"):
            return f"vLLM's GGUF support is experimental; serve {recipe.name} with llama.cpp"
        if hardware.split_mode == "tensor" and len({s.spec.vram_gib for s in hardware.gpus}) > 1:
            return "vLLM tensor parallelism needs the same VRAM on every GPU"
        if recipe.family == "fp8" and all((s.spec.cc_major_minor or (0, 0)) < (8, 9) for s in hardware.gpus):
            return "FP8 weights need compute capability 8.9+ (Ada, Hopper) for native FP8 kernels"
    return None


def _reason(layout: MemoryLayout, hardware: Hardware, context: int, native: int) -> tuple[bool, str]:
    over = layout.overfull()
    if over:
        i = over[0]
        if i == len(hardware.gpus):
            need, have = layout.host / GIB, layout.host_capacity / GIB
            return False, f"needs {need:.2f} GiB of host RAM, which has {have:.2f} GiB"
        slot = hardware.gpus[i]
        need, have = layout.per_gpu[i] / GIB, layout.capacity[i] / GIB
        held = (
            f", {slot.used_by_others_gib:.1f} GiB held by other processes" if slot.used_by_others_gib else ""
        )
        which = f"GPU {i} ({slot.spec.name})" if len(hardware.gpus) > 1 else slot.spec.name
        return False, f"needs {need:.2f} GiB on {which}, which has {have:.2f} GiB usable{held}"
    if context > native:
        return False, f"context {context} exceeds the model's native {native} tokens"
    if not any(layout.per_gpu):
        return True, f"uses {layout.host / layout.host_capacity:.0%} of host RAM"
    worst = max(p / c if c else float("inf") for p, c in zip(layout.per_gpu, layout.capacity, strict=True))
    offload = f"; {layout.host_layers} layers on the CPU" if layout.host_layers else ""
    return True, f"uses {worst:.0%} of usable GPU memory{offload}"


def resolve_gpu_layers(
    workload: Workload, hardware: Hardware, recipe: QuantRecipe, runtime: str
) -> int | None:
    """--gpu-layers as a number: None (all), the number given, or for "auto" the most layers
    whose weights, KV cache and buffers fit the GPUs at the workload's context (0 if none do)."""
    requested = workload.gpu_layers
    profile = runtime_profile(runtime)
    n_layers = workload.model.n_layers
    if requested is None or not profile.is_llama_cpp or runtime == "llama.cpp-cpu":
        return None
    if requested != "auto":
        return None if requested >= n_layers else int(requested)

    def gpus_fit(n: int) -> bool:
        layout = memory_layout(workload, hardware, recipe, profile, workload.context, workload.parallel, n)
        return not [i for i in layout.overfull() if i < len(hardware.gpus)]

    if gpus_fit(n_layers):
        return None
    best = _largest(gpus_fit, 0, n_layers - 1)
    return max(0, best)


def estimate(workload: Workload, hardware: Hardware, correction: Correction | None = None) -> Estimate:
    """Memory per GPU, speed and fit of `workload` on `hardware` (one replica).

    Speeds are the physical model times the architecture class's prior (`priors.py`); a
    `correction` from measurements of this card (`correction.py`) multiplies on top and makes the
    provenance "calibrated"."""
    validate(workload, hardware)
    recipe = quant_recipe(workload.quant)
    runtime = workload.runtime or default_runtime(hardware.gpus[0].spec)
    profile = runtime_profile(runtime)
    model = workload.model
    native = model.context_length
    gpu_layers = resolve_gpu_layers(workload, hardware, recipe, runtime)

    layout = memory_layout(
        workload, hardware, recipe, profile, workload.context, workload.parallel, gpu_layers
    )
    fits, reason = _reason(layout, hardware, workload.context, native)
    runtime_problem = _runtime_problem(workload, hardware, runtime, recipe)
    if runtime_problem:
        fits, reason = False, runtime_problem

    def layout_at_context(ctx: int) -> MemoryLayout:
        return memory_layout(workload, hardware, recipe, profile, ctx, workload.parallel, gpu_layers)

    def layout_at_parallel(par: int) -> MemoryLayout:
        return memory_layout(workload, hardware, recipe, profile, workload.context, par, gpu_layers)

    def fits_context(ctx: int) -> bool:
        return not layout_at_context(ctx).overfull()

    def fits_parallel(par: int) -> bool:
        return not layout_at_parallel(par).overfull()

    max_context = max_parallel = 0
    if not runtime_problem:
        guess = _affine_guess(layout_at_context, 1, native)
        max_context = max(0, _largest(fits_context, 1, native, guess))
        guess = _affine_guess(layout_at_parallel, 1, MAX_PARALLEL)
        max_parallel = max(0, _largest(fits_parallel, 1, MAX_PARALLEL, guess))

    depth = min(workload.prompt_tokens, workload.context)
    correction = correction or Correction()
    priors = tuple(prior_for(slot.spec, runtime, recipe) for slot in hardware.gpus)
    host_prior = prior_for(hardware.gpus[0].spec, "llama.cpp-cpu", recipe)
    scales = tuple(Scale(p.decode * correction.decode, p.prefill * correction.prefill) for p in priors)
    cpu_only = runtime == "llama.cpp-cpu"
    host_scale = Scale(
        host_prior.decode * (correction.decode if cpu_only else 1.0),
        host_prior.prefill * (correction.prefill if cpu_only else 1.0),
    )
    wb = weight_bytes(model, recipe)
    bytes_scale = (
        max(0.0, workload.weights_bytes - wb.embedding) / wb.on_gpu
        if workload.weights_bytes and wb.on_gpu
        else 1.0
    )
    speed_args = (scales, host_scale, bytes_scale)
    step_1 = decode_step_seconds(
        model, recipe, hardware, layout, profile, 1, depth, workload.kv_type, *speed_args
    )
    step_b = decode_step_seconds(
        model, recipe, hardware, layout, profile, workload.parallel, depth, workload.kv_type, *speed_args
    )
    prefill = prefill_tokens_per_s(
        model,
        recipe,
        hardware,
        layout,
        profile,
        workload.prompt_tokens,
        workload.flash_attention,
        scales,
        host_scale,
    )
    power_decode = min(speed_factor_at_power_limit(s.spec, s.power_limit_w, "decode") for s in hardware.gpus)
    power_prefill = min(
        speed_factor_at_power_limit(s.spec, s.power_limit_w, "prefill") for s in hardware.gpus
    )
    decode_1 = power_decode / step_1
    decode_total = power_decode * workload.parallel / step_b
    prefill *= power_prefill
    ttft = workload.prompt_tokens / prefill + 1 / decode_1

    file_bytes = workload.weights_bytes or wb.total
    disk_s = file_bytes / (hardware.disk_read_gbs * 1e9)
    link_s = sum(
        w / (slot.effective_link.gbs * 1e9) for w, slot in zip(layout.weights, hardware.gpus, strict=True)
    )
    if runtime == "llama.cpp-cpu":
        link_s = 0.0
    split_s = split_seconds(model, hardware, 1)
    bottleneck = _bottleneck(hardware, split_s, step_1, runtime, layout)
    notes = _notes(hardware, layout, file_bytes, runtime)
    provenance = _provenance(priors if not cpu_only else (host_prior,), correction, decode_1, layout)
    if provenance.no_published_rows:
        notes += (
            f"no published measurements for {provenance.arch_class}: an uncalibrated prior "
            f"({provenance.label().split(', ')[1]}); measure it",
        )

    memory = MemoryEstimate(
        weights=sum(layout.weights) / GIB,
        kv_cache=sum(layout.kv_cache) / GIB,
        compute=sum(layout.compute) / GIB,
        overhead=sum(layout.overhead) / GIB,
        total=sum(layout.per_gpu) / GIB,
        per_gpu=tuple(round(b / GIB, 3) for b in layout.per_gpu),
        capacity=tuple(round(b / GIB, 3) for b in layout.capacity),
        host_ram=layout.host / GIB,
    )
    return Estimate(
        fits=fits,
        reason=reason,
        runtime=runtime,
        memory=memory,
        decode_tokens_per_s=decode_1,
        decode_tokens_per_s_total=decode_total,
        prefill_tokens_per_s=prefill,
        ttft_s=ttft,
        max_context=max_context,
        max_parallel=max_parallel,
        load_seconds=max(disk_s, link_s),
        load_seconds_link=link_s,
        load_seconds_disk=disk_s,
        split_ms_per_token=split_s * 1000,
        bottleneck=bottleneck,
        notes=notes,
        provenance=provenance,
        gpu_layers=None if cpu_only else model.n_layers - layout.host_layers,
        cpu_layers=layout.host_layers,
    )


def _provenance(
    priors: tuple[Prior, ...], correction: Correction, decode: float, layout: MemoryLayout
) -> Provenance:
    """The decode figure's origin: the least certain prior among the devices a step runs on."""
    weakest = max(priors, key=lambda p: (p.uncalibrated, p.low_pct, p.decode_spread_pct))
    spread = weakest.decode_spread_pct or prior_table().uncalibrated_spread_pct
    low = max(weakest.low_pct, spread)
    if layout.host_layers and priors[0].runtime != "llama.cpp-cpu":
        # the host's share rests on assumed CPU figures: widen toward the uncalibrated spread
        share = layout.host_layers / (layout.host_layers + sum(layout.layers))
        spread = spread + share * (prior_table().uncalibrated_spread_pct - spread)
        low = max(low, spread)
    rows = weakest.decode_rows
    label = " + ".join(dict.fromkeys(p.label for p in priors))
    if layout.host_layers and priors[0].runtime != "llama.cpp-cpu":
        label += " + host-cpu"
    if correction.rows:
        spread = corrected_spread(spread, correction.rows, correction.spread_pct)
        s = spread / 100
        return Provenance(
            "calibrated", "calibrated", "prior", correction.rows, (decode / (1 + s), decode * (1 + s)),
            label, spread, False,
        )  # fmt: skip
    return prior_provenance(decode, label, spread, rows, low)


def _bottleneck(hardware: Hardware, split_s: float, step_s: float, runtime: str, layout: MemoryLayout) -> str:
    if runtime == "llama.cpp-cpu":
        return "host memory bandwidth"
    if layout.host_layers:
        return "host CPU (layers not offloaded)"
    if split_s > 0.25 * step_s:
        return "network between hosts" if hardware.network_gbs else "PCIe link between GPUs"
    return "GPU memory bandwidth"


def _notes(hardware: Hardware, layout: MemoryLayout, file_bytes: float, runtime: str) -> tuple[str, ...]:
    notes = []
    if runtime == "llama.cpp-cpu" and hardware.host_ram_gib is None:
        notes.append(
            f"host RAM not given: assumed {layout.host_capacity / GIB:.0f} GiB (a mining host); pass --host-ram"
        )
    if layout.host_layers and runtime != "llama.cpp-cpu":
        notes.append(
            f"{layout.host_layers} layers run on the host CPU ({hardware.host_threads} threads, "
            f"{hardware.host_bandwidth_gbs:g} GB/s RAM): decode is bound by the host"
        )
    slowest = min(hardware.gpus, key=lambda s: s.effective_link.gbs)
    if slowest.effective_link.gbs < 1.0 and runtime != "llama.cpp-cpu":
        notes.append(
            f"PCIe {slowest.effective_link} ({slowest.effective_link.gbs:.2f} GB/s): slow model loads"
        )
    if hardware.host_ram_gib is not None and file_bytes / GIB > hardware.host_ram_gib:
        notes.append(
            f"model file {file_bytes / GIB:.1f} GiB exceeds host RAM {hardware.host_ram_gib:.1f} GiB: "
            "load without mmap caching (--no-mmap streams it)"
        )
    for slot in hardware.gpus:
        if slot.spec.fp16_tflops < slot.spec.fp32_tflops / 8:
            notes.append(f"{slot.spec.name}: FP16 runs at 1:64, prompt processing uses FP32/int8 paths")
            break
    return tuple(notes)
