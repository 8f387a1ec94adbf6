"""GPU memory of one replica: weights, KV cache, compute buffers and runtime overhead, per GPU.

The llama.cpp model follows its allocator: token embeddings stay in host memory (the lookup runs
on the CPU), every other weight and the KV cache of a layer live on the GPU that holds the layer,
the last GPU also holds the LM head; each GPU gets a compute buffer sized for one micro-batch
(flash attention makes it independent of context) and its own CUDA/HIP context. vLLM and
transformers keep everything, embeddings included, on the GPUs; vLLM additionally claims
`gpu_memory_utilization` (0.9) of each GPU up front and fills what is left with KV blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rigshift.catalog.model_spec import ModelSpec
from rigshift.estimate.quants import QuantRecipe, kv_bytes_per_element
from rigshift.estimate.runtimes import RuntimeProfile
from rigshift.estimate.tensors import weight_bytes
from rigshift.estimate.types import DEFAULT_HOST_RAM_GIB, Hardware, Workload

GIB = 1024**3
VLLM_GPU_MEMORY_UTILIZATION = 0.9  # vLLM's default for --gpu-memory-utilization
ACTIVATION_BYTES = 2  # fp16/bf16 activations in vLLM and transformers
LLAMA_CPP_ACTIVATION_BYTES = 4  # ggml keeps intermediate results in F32


@dataclass(frozen=True)
class MemoryLayout:
    """Bytes per GPU by component, plus host-side bytes. Index i is hardware.gpus[i]."""

    weights: tuple[float, ...]
    kv_cache: tuple[float, ...]
    compute: tuple[float, ...]
    overhead: tuple[float, ...]
    capacity: tuple[float, ...]
    layers: tuple[int, ...]  # transformer layers per GPU
    host: float  # bytes the runtime holds in host RAM (embedding, CPU layers, their KV, buffers)
    host_layers: int = 0  # repeating layers left on the host CPU (partial offload, CPU runtime)
    host_layer_weights: float = 0.0  # bytes of those layers' weights
    host_kv: float = 0.0  # bytes of their KV cache
    host_head: float = 0.0  # LM head bytes read on the host (not offloaded)
    host_capacity: float = float("inf")  # host RAM; infinite when not checked

    @property
    def per_gpu(self) -> tuple[float, ...]:
        return tuple(
            sum(parts) for parts in zip(self.weights, self.kv_cache, self.compute, self.overhead, strict=True)
        )

    @property
    def needs(self) -> tuple[float, ...]:
        """Bytes per memory pool: each GPU, then host RAM where it is checked."""
        return self.per_gpu + ((self.host,) if self.host_capacity != float("inf") else ())

    @property
    def capacities(self) -> tuple[float, ...]:
        return self.capacity + ((self.host_capacity,) if self.host_capacity != float("inf") else ())

    def overfull(self) -> list[int]:
        """Pools that do not fit: GPU indexes, and len(gpus) for host RAM."""
        return [
            i for i, (need, have) in enumerate(zip(self.needs, self.capacities, strict=True)) if need > have
        ]


def kv_bytes_per_token(model: ModelSpec, kv_type: str, context: int) -> float:
    """KV-cache bytes per cached token, averaged over layers (sliding-window layers cap at their window)."""
    per_layer = 2 * model.n_kv_heads * model.head_dim * kv_bytes_per_element(kv_type)
    if model.kind == "embedding":
        return 0.0
    full_layers = model.n_layers - model.sliding_window_layers
    swa_fraction = min(1.0, model.sliding_window / context) if model.sliding_window and context else 1.0
    return per_layer * (full_layers + model.sliding_window_layers * swa_fraction)


def capacity_bytes(hardware: Hardware, runtime: str) -> tuple[float, ...]:
    if runtime == "llama.cpp-cpu":  # the CPU runtime holds nothing on the GPUs
        return tuple(0.0 for _ in hardware.gpus)
    share = VLLM_GPU_MEMORY_UTILIZATION if runtime == "vllm" else 1.0
    return tuple(
        max(0.0, slot.spec.vram_gib * share - slot.used_by_others_gib) * GIB for slot in hardware.gpus
    )


def layer_shares(hardware: Hardware, n_layers: int, capacity: tuple[float, ...]) -> tuple[int, ...]:
    """Whole layers per GPU: by --tensor-split if given, else by free memory (llama.cpp's default)."""
    n = len(hardware.gpus)
    if n == 1:
        return (n_layers,)
    if hardware.split_mode == "tensor":
        return tuple(n_layers for _ in range(n))  # every GPU holds a 1/n slice of every layer
    ratios = hardware.tensor_split or capacity
    total = sum(ratios) or 1.0
    cumulative, shares, given = 0.0, [], 0
    for ratio in ratios:
        cumulative += ratio / total
        upto = round(cumulative * n_layers)
        shares.append(upto - given)
        given = upto
    return tuple(shares)


def compute_buffer_bytes(
    model: ModelSpec, profile: RuntimeProfile, workload: Workload, holds_head: bool
) -> float:
    """Peak scratch memory of one forward pass over a micro-batch.

    ggml's graph allocator reuses memory, so the peak is the largest live set, not the sum: the
    logits of a micro-batch (vocab × tokens, F32) on the GPU holding the LM head, else the FFN
    intermediates. Without flash attention the KQ matrix (heads × context × tokens) adds up.
    """
    if profile.is_llama_cpp:
        tokens = profile.micro_batch
        act = LLAMA_CPP_ACTIVATION_BYTES
        head = model.vocab_size * tokens * act if holds_head and model.kind == "chat" else 0
        ffn = tokens * (2 * model.ffn_size + model.hidden_size) * act
        flash = profile.uses_flash_attention if workload.flash_attention is None else workload.flash_attention
        kq = 0 if flash else model.n_heads * workload.context * tokens * act
        return max(head, ffn) + kq + tokens * model.hidden_size * act * 4
    # PyTorch runtimes: a whole prompt (transformers) or a scheduler step (vLLM) goes through at once,
    # with the MLP's gate, up and activated outputs live together, and the logits of the last token.
    tokens = workload.context if profile.name == "transformers" else profile.micro_batch
    per_token = (
        3 * model.ffn_size * max(1, model.n_active_experts) + 4 * model.hidden_size
    ) * ACTIVATION_BYTES
    return tokens * per_token + model.vocab_size * workload.parallel * 4


def host_capacity_bytes(hardware: Hardware, runtime: str) -> float:
    """Host RAM the runtime can use: checked when given, and always for the CPU runtime, which
    holds everything there (a mining host's DEFAULT_HOST_RAM_GIB when not given)."""
    if hardware.host_ram_gib is not None:
        return hardware.host_ram_gib * GIB
    return DEFAULT_HOST_RAM_GIB * GIB if runtime == "llama.cpp-cpu" else float("inf")


def memory_layout(
    workload: Workload,
    hardware: Hardware,
    recipe: QuantRecipe,
    profile: RuntimeProfile,
    context: int,
    parallel: int,
    gpu_layers: int | None = None,
) -> MemoryLayout:
    """Where every byte lives. `gpu_layers` (llama.cpp --gpu-layers) offloads that many repeating
    layers to the GPUs (the last ones, as llama.cpp does); the rest, their KV cache and, unless
    every layer is offloaded, the LM head stay in host RAM. None: every layer on the GPUs; the CPU
    runtime keeps every layer on the host."""
    model = workload.model
    wb = weight_bytes(model, recipe)
    on_gpu_total = wb.on_gpu
    host = wb.embedding
    if workload.weights_bytes:  # a real file: trust its size, keep our split between host and GPU
        on_gpu_total = max(0.0, workload.weights_bytes - wb.embedding)
    if not profile.is_llama_cpp:
        on_gpu_total += host  # PyTorch runtimes keep the embedding on the GPU
        host = 0.0
        gpu_layers = None  # no partial offload outside llama.cpp
    if profile.name == "llama.cpp-cpu":
        gpu_layers = 0
    n_gpu_layers = model.n_layers if gpu_layers is None else max(0, min(model.n_layers, gpu_layers))
    host_layers = model.n_layers - n_gpu_layers
    # The weights read as the LM head: llama.cpp's GPU copy of the output; PyTorch runtimes also
    # hold the embedding on the GPU, so it is counted with the head there.
    head_bytes = wb.output if profile.is_llama_cpp else wb.output + wb.embedding
    head_on_gpu = host_layers == 0
    per_layer_weights = max(0.0, on_gpu_total - head_bytes) / model.n_layers
    kv_per_layer = kv_bytes_per_token(model, workload.kv_type, context) * context * parallel / model.n_layers
    capacity = capacity_bytes(hardware, profile.name)
    layers = layer_shares(hardware, n_gpu_layers, capacity)
    n = len(hardware.gpus)
    tensor_parallel = hardware.split_mode == "tensor" and n > 1
    weights, kv, compute, overhead = [], [], [], []
    sized = replace(workload, context=context, parallel=parallel)
    on_gpus = n_gpu_layers > 0 or head_on_gpu
    for i in range(n):
        last = i == n - 1
        head = head_bytes if (last and head_on_gpu) else 0.0
        if not on_gpus:
            weights.append(0.0)
            kv.append(0.0)
            compute.append(0.0)
            overhead.append(0.0)
            continue
        if tensor_parallel:
            weights.append((per_layer_weights * n_gpu_layers + (head_bytes if head_on_gpu else 0.0)) / n)
            kv.append(kv_per_layer * n_gpu_layers / n)
            compute.append(compute_buffer_bytes(model, profile, sized, True) / n)
        else:
            weights.append(per_layer_weights * layers[i] + head)
            kv.append(kv_per_layer * layers[i])
            compute.append(compute_buffer_bytes(model, profile, sized, last))
        overhead.append(profile.context_overhead_gib * GIB)
    host_weights = per_layer_weights * host_layers
    host_kv = kv_per_layer * host_layers
    host_head = 0.0 if head_on_gpu else head_bytes
    host += host_weights + host_kv + host_head
    if host_layers:  # the CPU's own compute buffer for its layers
        host += compute_buffer_bytes(model, profile, sized, not head_on_gpu)
    host += 0.25 * GIB if profile.is_llama_cpp else 0.0  # host-side compute buffer, logits
    return MemoryLayout(
        tuple(weights),
        tuple(kv),
        tuple(compute),
        tuple(overhead),
        capacity,
        layers,
        host,
        host_layers=host_layers,
        host_layer_weights=host_weights,
        host_kv=host_kv,
        host_head=host_head,
        host_capacity=host_capacity_bytes(hardware, profile.name),
    )
