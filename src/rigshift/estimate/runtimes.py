"""Inference runtimes: which GPUs each runs on, and the efficiency factors of its kernels.

Efficiency factors depend on the runtime, the GPU vendor/architecture class and the quant family
— never on one card model or one benchmark row. Each was fitted once across all single-GPU rows
of the published measurements named in docs/estimator.md (llama-bench tables of many NVIDIA
cards; the Qwen2.5 speed benchmark for vLLM and transformers) by `bench/estimator_accuracy.py
--fit`, and is documented there with its source.
"""

from __future__ import annotations

from dataclasses import dataclass

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.errors import Problem, UnknownNameError
from rigshift.suggest import did_you_mean

RUNTIMES = ("llama.cpp-cuda", "llama.cpp-vulkan", "llama.cpp-rocm", "llama.cpp-cpu", "vllm", "transformers")

# ROCm's supported GPU list (ROCm 6.x/7.x "Linux system requirements" GPU table); RDNA2 cards
# below gfx1030 run it only with HSA_OVERRIDE_GFX_VERSION=10.3.0, which we count as supported
# with a note. gfx803 (Polaris) and gfx900 (Vega 10) were dropped: llama.cpp's Vulkan backend it is.
ROCM_GFX = frozenset(
    {"gfx906", "gfx908", "gfx90a", "gfx942", "gfx1030", "gfx1100", "gfx1101", "gfx1102", "gfx1200", "gfx1201"}
)
ROCM_GFX_WITH_OVERRIDE = frozenset({"gfx1031", "gfx1032", "gfx1034", "gfx1035", "gfx1036", "gfx1103"})

# vLLM's CUDA builds need compute capability 7.0+ (vLLM installation docs, "GPU requirements").
VLLM_MIN_CC = (7, 0)


@dataclass(frozen=True)
class RuntimeProfile:
    name: str
    # Share of peak memory bandwidth the decode (GEMV) kernels reach.
    decode_bandwidth_efficiency: float
    # Fixed cost per layer per decoded token (kernel launches, synchronisation, Python for
    # transformers), microseconds. Dominates small models.
    per_layer_overhead_us: float
    # Share of the peak matrix rate that prompt processing reaches.
    prefill_compute_efficiency: float
    # GPU memory the runtime itself holds per GPU (CUDA/HIP context, cuBLAS workspace), GiB.
    context_overhead_gib: float
    uses_flash_attention: bool
    micro_batch: int  # tokens per prompt-processing step (llama.cpp n_ubatch)


PROFILES: dict[str, RuntimeProfile] = {
    "llama.cpp-cuda": RuntimeProfile("llama.cpp-cuda", 0.78, 6.0, 0.42, 0.35, True, 512),
    "llama.cpp-rocm": RuntimeProfile("llama.cpp-rocm", 0.65, 10.0, 0.30, 0.40, True, 512),
    "llama.cpp-vulkan": RuntimeProfile("llama.cpp-vulkan", 0.62, 12.0, 0.25, 0.30, True, 512),
    "llama.cpp-cpu": RuntimeProfile("llama.cpp-cpu", 0.60, 20.0, 0.50, 0.05, True, 512),
    "vllm": RuntimeProfile("vllm", 0.80, 4.0, 0.55, 0.80, True, 2048),
    "transformers": RuntimeProfile("transformers", 0.75, 700.0, 0.45, 0.0, True, 2048),
}


def runtime_profile(name: str) -> RuntimeProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownNameError(
            Problem(
                f"unknown runtime {name!r}",
                field="runtime",
                expected="one of " + ", ".join(RUNTIMES),
                suggestions=did_you_mean(name, RUNTIMES),
            )
        ) from None


def runtime_support(spec: GpuSpec, runtime: str) -> tuple[bool, str]:
    """Whether `runtime` runs on this GPU, and why (not)."""
    runtime_profile(runtime)
    if runtime == "llama.cpp-cpu":
        return True, "runs on the host CPU"
    if runtime == "llama.cpp-vulkan":
        return True, "Vulkan runs on every NVIDIA, AMD and Intel card of this catalog"
    if runtime in ("llama.cpp-cuda", "vllm", "transformers") and spec.vendor != "nvidia":
        if runtime == "vllm" and spec.vendor == "amd" and spec.gfx_target in {"gfx90a", "gfx942", "gfx1100"}:
            return True, f"vLLM's ROCm build supports {spec.gfx_target}"
        return False, f"{runtime} needs an NVIDIA GPU (CUDA); {spec.name} is {spec.vendor.upper()}"
    if runtime == "vllm":
        cc = spec.cc_major_minor
        if cc is None or cc < VLLM_MIN_CC:
            return False, f"vLLM needs compute capability ≥ 7.0; {spec.name} has {spec.compute_capability}"
        return True, f"compute capability {spec.compute_capability}"
    if runtime == "llama.cpp-rocm":
        if spec.vendor != "amd":
            return False, f"ROCm needs an AMD GPU; {spec.name} is {spec.vendor.upper()}"
        if spec.gfx_target in ROCM_GFX:
            return True, f"{spec.gfx_target} is on ROCm's supported list"
        if spec.gfx_target in ROCM_GFX_WITH_OVERRIDE:
            return True, f"{spec.gfx_target} runs ROCm with HSA_OVERRIDE_GFX_VERSION=10.3.0 (unofficial)"
        return False, f"current ROCm no longer supports {spec.gfx_target}; use llama.cpp-vulkan"
    return True, "CUDA"


def runtimes_for(spec: GpuSpec) -> list[str]:
    """GPU runtimes that run on this card, best first (the CPU runtime never counts)."""
    return [r for r in RUNTIMES if r not in ("llama.cpp-cpu", "transformers") and runtime_support(spec, r)[0]]


def default_runtime(spec: GpuSpec) -> str:
    if spec.vendor == "nvidia":
        return "llama.cpp-cuda"
    if spec.vendor == "amd" and runtime_support(spec, "llama.cpp-rocm")[0]:
        return "llama.cpp-rocm"
    return "llama.cpp-vulkan"
