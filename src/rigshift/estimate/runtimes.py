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
from rigshift.suggest import unknown_choice

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
    # Share of peak memory bandwidth the decode (GEMV) kernels reach, for float weights (F16,
    # BF16) and for quantized ones (GGUF K/IQ/legacy, GPTQ, AWQ, FP8), whose kernels also
    # dequantize and so reach less.
    decode_efficiency_float: float
    decode_efficiency_quantized: float
    # Fixed cost per layer per decode step (kernel launches, synchronisation, the Python of
    # transformers and of vLLM's model runner), microseconds. Dominates small models.
    per_layer_overhead_us: float
    # Share of the peak matrix rate that prompt processing reaches, per arithmetic path.
    prefill_efficiency_int8: float
    prefill_efficiency_fp16: float
    # GPU memory the runtime itself holds per GPU (CUDA/HIP context, cuBLAS workspace), GiB.
    context_overhead_gib: float
    uses_flash_attention: bool
    micro_batch: int  # tokens per prompt-processing step (llama.cpp n_ubatch)
    # Reading the KV cache in decode attention reaches this share of the weights' bandwidth
    # efficiency: one sequence's attention at long context leaves most of the GPU idle.
    kv_read_efficiency: float = 1.0

    @property
    def is_llama_cpp(self) -> bool:
        """llama.cpp keeps the token embedding in host memory and runs ggml's graph allocator."""
        return self.name.startswith("llama.cpp")

    def decode_efficiency(self, quantized: bool) -> float:
        return self.decode_efficiency_quantized if quantized else self.decode_efficiency_float

    def prefill_efficiency(self, path: str) -> float:
        return self.prefill_efficiency_int8 if path == "int8" else self.prefill_efficiency_fp16


# Fitted by `python bench/estimator_accuracy.py --reference llm_throughput.csv --fit` on the
# single-GPU rows of the published measurements (docs/estimator.md lists sources, row counts and
# the resulting errors). Where no published row exists the value is an assumption, marked so:
# ROCm takes Vulkan's decode factors (the same llama.cpp kernels' structure on AMD) and CUDA's
# prefill ones; vLLM prefill and transformers prefill have no rows in the calibration set.
PROFILES: dict[str, RuntimeProfile] = {
    # llama-bench, CUDA: 47 float + 112 quantized decode rows, 47 + 92 prefill rows.
    "llama.cpp-cuda": RuntimeProfile("llama.cpp-cuda", 0.92, 0.92, 133.0, 0.156, 0.356, 0.35, True, 512),
    # assumption: Vulkan's decode factors, CUDA's prefill factors.
    "llama.cpp-rocm": RuntimeProfile("llama.cpp-rocm", 0.85, 0.85, 64.0, 0.156, 0.356, 0.40, True, 512),
    # 17 quantized decode rows (geerlingguy/ai-benchmarks); prefill: assumption (CUDA's FP16 factor).
    "llama.cpp-vulkan": RuntimeProfile("llama.cpp-vulkan", 0.85, 0.85, 64.0, 0.356, 0.356, 0.30, True, 512),
    # assumption: no CPU rows; a weak mining host's DRAM bandwidth and FLOPs are in speed.py.
    "llama.cpp-cpu": RuntimeProfile("llama.cpp-cpu", 0.60, 0.60, 20.0, 0.50, 0.50, 0.05, True, 512),
    # Qwen2.5 speed benchmark, vLLM 0.6.3 on A100: 27 float + 108 GPTQ/AWQ decode rows;
    # prefill: assumption.
    # kv_read_efficiency 0.35: best of a sweep (1.0, 0.5, 0.35, 0.25, 0.15) over the rows that
    # decode after 1 to 129,024 prompt tokens (docs/estimator.md).
    "vllm": RuntimeProfile("vllm", 0.72, 0.92, 120.0, 0.60, 0.60, 0.80, True, 2048, 0.35),
    # Qwen2.5 speed benchmark, transformers 4.46: 24 float + 78 GPTQ/AWQ decode rows;
    # prefill: assumption.
    "transformers": RuntimeProfile("transformers", 0.88, 0.41, 850.0, 0.40, 0.40, 0.0, True, 2048, 0.35),
}


def runtime_profile(name: str) -> RuntimeProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise unknown_choice("runtime", name, RUNTIMES) from None


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
