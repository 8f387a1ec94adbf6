"""Tokens per second: decode is bound by memory bandwidth, prompt processing by matrix math.

Decode reads every active weight and the KV cache once per step: a step over a batch of B
sequences costs max(bytes ÷ (bandwidth × efficiency), FLOPs ÷ (matrix rate × efficiency)) plus a
fixed cost per layer (kernel launches), summed over the GPUs of a layer split (they work in
turn), plus the activations that cross each link between them. Prompt processing runs
micro-batches of tokens through the same weights, so it is bound by the matrix rate the card
really has for the quant's kernels (int8 dot products for GGUF on CUDA/ROCm, FP16 tensor cores
for F16/GPTQ/AWQ, FP32 on Pascal whose FP16 runs at 1:64).
"""

from __future__ import annotations

from dataclasses import dataclass

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.model_spec import ModelSpec
from rigshift.estimate.memory import MemoryLayout, kv_bytes_per_token
from rigshift.estimate.quants import QuantRecipe
from rigshift.estimate.runtimes import PROFILES, RuntimeProfile
from rigshift.estimate.tensors import active_params, lm_head_params, weight_bytes
from rigshift.estimate.types import Hardware

# Latency of one activation hand-off between GPUs over PCIe (a synchronised copy), and between
# hosts over llama.cpp RPC (a TCP round trip per graph split), seconds.
PCIE_HOP_LATENCY_S = 20e-6
RPC_HOP_LATENCY_S = 500e-6
ACTIVATION_BYTES_PER_VALUE = 4  # llama.cpp passes F32 hidden states between devices
ATTENTION_COST = 3.0
PIPELINE_DEPTH = 4  # llama.cpp's default n_batch (2048) ÷ n_ubatch (512)


@dataclass(frozen=True)
class MatrixRate:
    tflops: float
    path: str  # human-readable: "int8 tensor cores", "FP32 (Pascal FP16 is 1:64)"
    path_kind: str = "fp16"  # "int8" or "fp16" (FP16/FP32/FP8 floating-point paths)


def matrix_rate(spec: GpuSpec, runtime: str, recipe: QuantRecipe) -> MatrixRate:
    """Peak dense matrix rate the runtime's prompt-processing kernels can use on this card."""
    if runtime == "llama.cpp-cpu":
        return MatrixRate(0.1, "host CPU")  # not used for speed: the host's own rate is host_tflops()
    fp16_usable = spec.fp16_tflops >= spec.fp32_tflops  # Pascal consumer/P10x: FP16 at 1:64
    fp16 = spec.fp16_matrix_tflops or (spec.fp16_tflops if fp16_usable else 0.0)
    if spec.fp16_matrix_tflops and runtime == "llama.cpp-cuda" and consumer_half_rate_accumulate(spec):
        # ggml-cuda runs F16 GEMMs with FP16 accumulation (CUBLAS_COMPUTE_16F), which GeForce
        # tensor cores run at twice their FP32-accumulate rate (the catalog's figure).
        fp16 *= 2
    if runtime == "llama.cpp-vulkan":
        # Vulkan shaders: packed FP16 where the card runs it at full rate, else FP32.
        return MatrixRate(max(spec.fp16_tflops if fp16_usable else 0.0, spec.fp32_tflops), "shader FP16/FP32")
    if recipe.matmul == "int8" and spec.int8_tops:
        return MatrixRate(spec.int8_tops, "int8 (MMQ)", "int8")
    if fp16 > spec.fp32_tflops:
        return MatrixRate(fp16, "FP16 matrix units" if spec.fp16_matrix_tflops else "FP16 shaders")
    return MatrixRate(spec.fp32_tflops, "FP32" + ("" if fp16_usable else " (FP16 is 1:64 on this card)"))


# Prompt-processing efficiency relative to the runtime's, per GPU architecture and arithmetic
# path (llama.cpp's kernels are tuned unevenly across generations). Ampere and Ada: fitted on the
# llama-bench rows of 6 card types each by bench/estimator_accuracy.py --fit. Hopper int8: the
# MMQ kernels do not use Hopper's wgmma; 0.54 from the H100 PCIe rows of the calibration set,
# confirmed on an H200 with current llama.cpp (docs/benchmarks.md: 0.53). 1.0 elsewhere.
ARCHITECTURE_PREFILL_FACTOR: dict[tuple[str, str], float] = {
    ("Ampere", "int8"): 1.11,
    ("Ampere", "fp16"): 1.11,
    ("Ada Lovelace", "int8"): 0.86,
    ("Ada Lovelace", "fp16"): 0.86,
    ("Hopper", "int8"): 0.54,
}


def architecture_factor(spec: GpuSpec, path_kind: str) -> float:
    return ARCHITECTURE_PREFILL_FACTOR.get((spec.architecture, path_kind), 1.0)


def consumer_half_rate_accumulate(spec: GpuSpec) -> bool:
    """GeForce and CMP tensor cores accumulate FP32 at half their FP16-accumulate rate; TITAN,
    workstation and data-centre parts do not (NVIDIA Turing/Ampere/Ada whitepapers' tables)."""
    name = spec.name.upper()
    return spec.vendor == "nvidia" and ("GEFORCE" in name or "CMP" in name) and "TITAN" not in name


def _bandwidth(spec: GpuSpec, runtime: str) -> float:
    return spec.mem_bandwidth_gbs


def _hop_seconds(hardware: Hardware, values: float) -> float:
    """Time to move `values` activations across every boundary of the split, one after another."""
    if len(hardware.gpus) < 2:
        return 0.0
    total = 0.0
    nbytes = values * ACTIVATION_BYTES_PER_VALUE
    for slot in hardware.gpus[1:]:
        link = slot.effective_link.gbs
        if hardware.network_gbs:  # across hosts: the network, then the target host's PCIe link
            total += RPC_HOP_LATENCY_S + nbytes / (hardware.network_gbs * 1e9)
        total += PCIE_HOP_LATENCY_S + 2 * nbytes / (link * 1e9)  # device→host, host→device
    return total


def _tensor_parallel_sync_seconds(hardware: Hardware, model: ModelSpec, tokens: int) -> float:
    """Two all-reduces per layer over the slowest link (Megatron-style tensor parallelism)."""
    n = len(hardware.gpus)
    slowest = min(slot.effective_link.gbs for slot in hardware.gpus)
    ring_bytes = 2 * (n - 1) / n * model.hidden_size * tokens * 2
    per_allreduce = 2 * (n - 1) * PCIE_HOP_LATENCY_S + ring_bytes / (slowest * 1e9)
    return 2 * model.n_layers * per_allreduce


@dataclass(frozen=True)
class Scale:
    """Multipliers on a runtime's decode and prefill efficiencies for one device (a GPU, or the
    host CPU): the architecture class's prior times any measured correction."""

    decode: float = 1.0
    prefill: float = 1.0


NEUTRAL_SCALE = Scale()
# One llama.cpp CPU thread streams about this many GB/s of quantized weights through its
# dequantise-and-dot kernels (AVX2), and multiplies at about this many GFLOPS in prompt
# processing: with a Celeron's 2 threads the host is thread bound, not DRAM bound. Assumptions
# (no CPU rows in the calibration set), stated in docs/estimator.md.
HOST_GBS_PER_THREAD = 8.0
HOST_GFLOPS_PER_THREAD = 50.0
# llama.cpp runs the matrix products of CPU-resident layers on the GPU when a batch is large
# (prompt processing): the weights cross PCIe once per micro-batch instead (ggml-backend's
# offload of large-batch ops, batch >= 32).
GPU_OFFLOAD_MIN_BATCH = 32


def host_bandwidth_gbs(hardware: Hardware) -> float:
    """What the host CPU streams weights at: DRAM × the CPU runtime's efficiency, or what its threads
    can dequantise, whichever is less."""
    dram = hardware.host_bandwidth_gbs * PROFILES["llama.cpp-cpu"].decode_efficiency_quantized
    return min(dram, max(1, hardware.host_threads) * HOST_GBS_PER_THREAD)


def host_tflops(hardware: Hardware) -> float:
    return max(1, hardware.host_threads) * HOST_GFLOPS_PER_THREAD / 1000


def decode_step_seconds(
    model: ModelSpec,
    recipe: QuantRecipe,
    hardware: Hardware,
    layout: MemoryLayout,
    profile: RuntimeProfile,
    batch: int,
    depth: int,
    kv_type: str,
    scales: tuple[Scale, ...] | None = None,
    host_scale: Scale = NEUTRAL_SCALE,
    bytes_scale: float = 1.0,
) -> float:
    """Seconds for one decode step that emits one token for each of `batch` sequences at `depth`.

    `scales` (one per GPU) carry the architecture class's prior and any measured correction;
    `bytes_scale` corrects the modelled weight bytes to a real file's. Layers left on the host
    (partial offload, the CPU runtime) are read by the CPU at the host's speed, after the GPUs."""
    wb = weight_bytes(model, recipe)
    active = weight_bytes_read_per_step(model, wb.layers, wb.layers_active, batch) * bytes_scale
    head = (wb.output if profile.is_llama_cpp else wb.output + wb.embedding) * bytes_scale
    kv_per_token = kv_bytes_per_token(model, kv_type, max(depth, 1))
    flops_per_token = 2 * active_params(model)
    n = len(hardware.gpus)
    tensor_parallel = hardware.split_mode == "tensor" and n > 1
    gpu_layers = model.n_layers - layout.host_layers
    head_on_gpu = layout.host_head == 0.0
    quantized = recipe.family != "float"
    total = 0.0
    for i, slot in enumerate(hardware.gpus if gpu_layers or head_on_gpu else ()):
        scale = scales[i] if scales else NEUTRAL_SCALE
        share = gpu_layers / model.n_layers / n if tensor_parallel else layout.layers[i] / model.n_layers
        last = i == n - 1
        read = active * share
        if head_on_gpu and (last or tensor_parallel):
            read += head / (n if tensor_parallel else 1)
        read += kv_per_token * depth * batch * share / profile.kv_read_efficiency
        memory_s = read / (
            _bandwidth(slot.spec, profile.name) * 1e9 * profile.decode_efficiency(quantized) * scale.decode
        )
        peak = matrix_rate(slot.spec, profile.name, recipe)
        rate = peak.tflops * 1e12 * profile.prefill_efficiency(peak.path_kind) * scale.prefill
        compute_s = flops_per_token * share * batch / rate
        gpu_s = max(memory_s, compute_s)
        if tensor_parallel:
            total = max(total, gpu_s)
        else:
            total += gpu_s
    if layout.host_layers or not head_on_gpu:
        share = layout.host_layers / model.n_layers
        read = active * share + (0.0 if head_on_gpu else head)
        read += kv_per_token * depth * batch * share
        memory_s = read / (host_bandwidth_gbs(hardware) * 1e9 * host_scale.decode)
        compute_s = flops_per_token * share * batch / (host_tflops(hardware) * 1e12 * host_scale.prefill)
        total += max(memory_s, compute_s)
        if gpu_layers:  # hidden state GPU -> host -> GPU each step
            total += 2 * PCIE_HOP_LATENCY_S
    total += model.n_layers * profile.per_layer_overhead_us * 1e-6
    return total + split_seconds(model, hardware, batch)


def split_seconds(model: ModelSpec, hardware: Hardware, tokens: int) -> float:
    """What moving activations between the GPUs of a split costs for one step over `tokens`."""
    if len(hardware.gpus) < 2:
        return 0.0
    if hardware.split_mode == "tensor":
        return _tensor_parallel_sync_seconds(hardware, model, tokens)
    return _hop_seconds(hardware, model.hidden_size * tokens)


def weight_bytes_read_per_step(
    model: ModelSpec, layers_all: float, layers_active: float, batch: int
) -> float:
    """Layer weights one decode step reads. In an MoE model a batch touches more experts than
    one token: with k of E experts picked per token, the expected share touched by B tokens is
    1 − (1 − k/E)^B (uniform routing)."""
    if not model.is_moe or batch <= 1:
        return layers_active
    k_over_e = model.n_active_experts / model.n_experts
    touched = 1 - (1 - k_over_e) ** batch
    experts_all = (layers_all - layers_active) / (1 - k_over_e)
    dense = layers_all - experts_all
    return dense + experts_all * touched


def prefill_tokens_per_s(
    model: ModelSpec,
    recipe: QuantRecipe,
    hardware: Hardware,
    layout: MemoryLayout,
    profile: RuntimeProfile,
    prompt_tokens: int,
    flash_attention: bool | None = None,
    scales: tuple[Scale, ...] | None = None,
    host_scale: Scale = NEUTRAL_SCALE,
) -> float:
    """Prompt-processing rate for a prompt of `prompt_tokens`, attention cost included."""
    prompt_tokens = max(1, prompt_tokens)
    ubatch = min(profile.micro_batch, prompt_tokens)
    wb = weight_bytes(model, recipe)
    # llama.cpp computes logits for the last prompt token only (llama-bench and llama-server
    # alike), so the LM head is not multiplied per prompt token: measured on the CPU here, a
    # head counted per token put Qwen3 0.6B's pp64 (26% of its parameters are the tied head) 32%
    # low (docs/benchmarks.md, rigshift bench).
    params = active_params(model) - (lm_head_params(model) if model.kind == "chat" else 0.0)
    # Attention runs well below the matrix rate (softmax, masking, and without flash attention a
    # KQ matrix through memory): its FLOPs count ATTENTION_COST times. Fitted on the pp512..pp8192
    # rows (flash attention off); with flash attention on, an assumption of half that penalty.
    attention_cost = ATTENTION_COST if flash_attention is False else 1 + (ATTENTION_COST - 1) / 2
    attn_flops_per_token = 4 * model.n_layers * model.n_heads * model.head_dim * (prompt_tokens / 2)
    flops_per_token = 2 * params + attn_flops_per_token * attention_cost
    n = len(hardware.gpus)
    tensor_parallel = hardware.split_mode == "tensor" and n > 1
    gpu_layers = model.n_layers - layout.host_layers
    quantized = recipe.family != "float"
    seconds_per_ubatch = 0.0
    stage_seconds: list[float] = []
    for i, slot in enumerate(hardware.gpus if profile.name != "llama.cpp-cpu" else ()):
        scale = scales[i] if scales else NEUTRAL_SCALE
        share = gpu_layers / model.n_layers / n if tensor_parallel else layout.layers[i] / model.n_layers
        peak = matrix_rate(slot.spec, profile.name, recipe)
        rate = (
            peak.tflops
            * 1e12
            * profile.prefill_efficiency(peak.path_kind)
            * architecture_factor(slot.spec, peak.path_kind)
            * scale.prefill
        )
        compute_s = flops_per_token * ubatch * share / rate
        memory_s = (
            wb.layers
            * share
            / (
                _bandwidth(slot.spec, profile.name)
                * 1e9
                * profile.decode_efficiency(quantized)
                * scale.decode
            )
        )
        gpu_s = max(compute_s, memory_s)
        stage_seconds.append(gpu_s)
        seconds_per_ubatch = max(seconds_per_ubatch, gpu_s) if tensor_parallel else seconds_per_ubatch + gpu_s
    if layout.host_layers:
        share = layout.host_layers / model.n_layers
        cpu_s = flops_per_token * ubatch * share / (host_tflops(hardware) * 1e12 * host_scale.prefill)
        if stage_seconds and ubatch >= GPU_OFFLOAD_MIN_BATCH:
            # The GPU multiplies the CPU layers' weights after copying them over the first GPU's link.
            link = hardware.gpus[0].effective_link.gbs
            gpu_rate_s = stage_seconds[0] * (layout.host_layers / max(1, layout.layers[0]))
            cpu_s = min(cpu_s, layout.host_layer_weights / (link * 1e9) + gpu_rate_s)
        stage_seconds.append(cpu_s)
        seconds_per_ubatch += cpu_s
    seconds_per_ubatch += model.n_layers * profile.per_layer_overhead_us * 1e-6
    if tensor_parallel:
        seconds_per_ubatch += _tensor_parallel_sync_seconds(hardware, model, ubatch)
    elif n > 1 and not layout.host_layers:
        # llama.cpp pipelines micro-batches through a layer split (n_batch 2048 = 4 micro-batches
        # in flight): GPUs work at once, so a micro-batch costs about the slowest stage, plus the
        # pipeline's fill and drain spread over the micro-batches of the prompt.
        stages = stage_seconds
        in_flight = max(1, min(PIPELINE_DEPTH, -(-prompt_tokens // ubatch)))
        seconds_per_ubatch = max(stages) + (sum(stages) - max(stages)) / in_flight
        seconds_per_ubatch += model.n_layers * profile.per_layer_overhead_us * 1e-6 / in_flight
        seconds_per_ubatch += _hop_seconds(hardware, model.hidden_size * ubatch) / in_flight
    return ubatch / seconds_per_ubatch
