"""The estimate: does a workload fit on some GPUs, and how fast does it run there."""

from __future__ import annotations

from collections.abc import Callable

from rigshift.errors import InputError, Problem
from rigshift.estimate.efficiency import EfficiencyScale
from rigshift.estimate.memory import GIB, MemoryLayout, memory_layout
from rigshift.estimate.power import speed_factor_at_power_limit
from rigshift.estimate.quants import QuantRecipe, kv_bytes_per_element, quant_recipe
from rigshift.estimate.runtimes import default_runtime, runtime_profile, runtime_support
from rigshift.estimate.speed import decode_step_seconds, prefill_tokens_per_s, split_seconds
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
    for need_low, need_high, capacity in zip(first.per_gpu, last.per_gpu, first.capacity, strict=True):
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
        slot = hardware.gpus[i]
        need, have = layout.per_gpu[i] / GIB, layout.capacity[i] / GIB
        held = (
            f", {slot.used_by_others_gib:.1f} GiB held by other processes" if slot.used_by_others_gib else ""
        )
        which = f"GPU {i} ({slot.spec.name})" if len(hardware.gpus) > 1 else slot.spec.name
        return False, f"needs {need:.2f} GiB on {which}, which has {have:.2f} GiB usable{held}"
    if context > native:
        return False, f"context {context} exceeds the model's native {native} tokens"
    worst = max(p / c if c else float("inf") for p, c in zip(layout.per_gpu, layout.capacity, strict=True))
    return True, f"uses {worst:.0%} of usable GPU memory"


def estimate(workload: Workload, hardware: Hardware, efficiency: EfficiencyScale | None = None) -> Estimate:
    """Memory per GPU, speed and fit of `workload` on `hardware` (one replica).

    `efficiency` scales the runtime's kernel efficiencies (calibration from measurements).
    """
    validate(workload, hardware)
    recipe = quant_recipe(workload.quant)
    runtime = workload.runtime or default_runtime(hardware.gpus[0].spec)
    profile = runtime_profile(runtime)
    if efficiency is not None:
        profile = efficiency.apply(profile)
    model = workload.model
    native = model.context_length

    layout = memory_layout(workload, hardware, recipe, profile, workload.context, workload.parallel)
    fits, reason = _reason(layout, hardware, workload.context, native)
    runtime_problem = _runtime_problem(workload, hardware, runtime, recipe)
    if runtime_problem:
        fits, reason = False, runtime_problem

    def layout_at_context(ctx: int) -> MemoryLayout:
        return memory_layout(workload, hardware, recipe, profile, ctx, workload.parallel)

    def layout_at_parallel(par: int) -> MemoryLayout:
        return memory_layout(workload, hardware, recipe, profile, workload.context, par)

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
    step_1 = decode_step_seconds(model, recipe, hardware, layout, profile, 1, depth, workload.kv_type)
    step_b = decode_step_seconds(
        model, recipe, hardware, layout, profile, workload.parallel, depth, workload.kv_type
    )
    prefill = prefill_tokens_per_s(
        model, recipe, hardware, layout, profile, workload.prompt_tokens, workload.flash_attention
    )
    power_decode = min(speed_factor_at_power_limit(s.spec, s.power_limit_w, "decode") for s in hardware.gpus)
    power_prefill = min(
        speed_factor_at_power_limit(s.spec, s.power_limit_w, "prefill") for s in hardware.gpus
    )
    decode_1 = power_decode / step_1
    decode_total = power_decode * workload.parallel / step_b
    prefill *= power_prefill
    ttft = workload.prompt_tokens / prefill + 1 / decode_1

    wb = weight_bytes(model, recipe)
    file_bytes = workload.weights_bytes or wb.total
    disk_s = file_bytes / (hardware.disk_read_gbs * 1e9)
    link_s = sum(
        w / (slot.effective_link.gbs * 1e9) for w, slot in zip(layout.weights, hardware.gpus, strict=True)
    )
    if runtime == "llama.cpp-cpu":
        link_s = 0.0
    split_s = split_seconds(model, hardware, 1)
    bottleneck = _bottleneck(hardware, split_s, step_1, runtime)
    notes = _notes(hardware, layout, file_bytes, runtime)

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
    )


def _bottleneck(hardware: Hardware, split_s: float, step_s: float, runtime: str) -> str:
    if runtime == "llama.cpp-cpu":
        return "host memory bandwidth"
    if split_s > 0.25 * step_s:
        return "network between hosts" if hardware.network_gbs else "PCIe link between GPUs"
    return "GPU memory bandwidth"


def _notes(hardware: Hardware, layout: MemoryLayout, file_bytes: float, runtime: str) -> tuple[str, ...]:
    notes = []
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
