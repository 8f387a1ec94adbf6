"""Which model sizes a GPU can fine-tune with LoRA or QLoRA: a rough VRAM rule and a stack rule.

The estimator covers inference only; training memory is estimated here from the model's shape,
as the usual accounting for PEFT training with gradient checkpointing and one sample per step:

- frozen base weights: 2 bytes/parameter for LoRA (bf16/fp16), ~0.55 for QLoRA (NF4 with double
  quantization: 4 bits plus block constants, as in the QLoRA paper);
- adapters of rank 16 on every linear layer: about 0.5% of the parameters, each with weight,
  gradient and two Adam moments plus an fp32 master copy: ~16 bytes;
- activations: one hidden state per layer kept by checkpointing, one layer recomputed in full
  (about 34 hidden-sized values per token, as in Korthikanti et al.'s accounting), and the fp32
  logits of the sample;
- a fixed 1 GiB for the CUDA/HIP context and the allocator's slack.

It is a screening rule, good to within ~20%, not a promise; docs/assessment.md says so.

Stack rule: PEFT training wants fast FP16/BF16 matrix units. NVIDIA compute capability >= 7.0
(tensor cores) or an AMD GPU on ROCm's supported list qualifies; Pascal (FP16 at 1:64) and
Vulkan-only cards do not.
"""

from __future__ import annotations

from typing import Literal

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.model_spec import ModelSpec

GIB = 1024**3
_BASE_BYTES = {"lora": 2.0, "qlora": 0.55}
_ADAPTER_FRACTION = 0.005
_ADAPTER_BYTES = 16.0
_CONTEXT_GIB = 1.0

Method = Literal["qlora", "lora"]


def finetune_vram_gib(model: ModelSpec, method: Method, sequence: int) -> float:
    params = model.params_b * 1e9
    base = params * _BASE_BYTES[method]
    adapters = params * _ADAPTER_FRACTION * _ADAPTER_BYTES
    checkpoints = model.n_layers * sequence * model.hidden_size * 2
    one_layer = sequence * (34 * model.hidden_size + 3 * model.ffn_size) * 2
    logits = sequence * model.vocab_size * 4 * 2  # fp32 logits and their gradient
    return (base + adapters + checkpoints + one_layer + logits) / GIB + _CONTEXT_GIB


def training_stack(spec: GpuSpec, runtimes: list[str]) -> tuple[bool, str]:
    """Whether a PEFT training stack (PyTorch + CUDA/ROCm) is practical on this card, and why."""
    if spec.vendor == "nvidia":
        cc = spec.cc_major_minor
        if cc is not None and cc >= (7, 0) and spec.tensor_cores:
            return True, f"CUDA with tensor cores (compute capability {spec.compute_capability})"
        if cc is not None and cc >= (7, 0):  # TU116/TU117: GTX 16xx, CMP 30HX
            return True, (
                f"CUDA, FP16 at 2x FP32 but no tensor cores (compute capability {spec.compute_capability}): slow"
            )
        return False, f"compute capability {spec.compute_capability or '?'}: no fast FP16 for training"
    if spec.vendor == "amd" and "llama.cpp-rocm" in runtimes:
        return True, f"ROCm supports {spec.gfx_target}"
    return False, "no PyTorch training stack for this card (Vulkan only)"
