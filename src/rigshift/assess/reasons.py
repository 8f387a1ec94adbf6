"""Reasons and recommendations in words: what holds a GPU back, and what to do with it.

Pure functions of a GPU's class results, its slot and its host key; the profile assessor decides,
these phrase and classify.
"""

from __future__ import annotations

from rigshift.assess.criteria import ModelClass, ReadinessCriteria, tier_rank
from rigshift.assess.keys import HostKey
from rigshift.assess.types import ClassResult, EmbeddingResult, FinetuneResult, Reason, Use
from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.estimate.types import GpuSlot

# FP16 slower than 1/8 of FP32 marks a crippled rate (Pascal consumer cards and P10x run 1:64).
_FP16_CRIPPLED_RATIO = 1 / 8


def is_fp16_crippled(spec: GpuSpec) -> bool:
    return spec.fp32_tflops > 0 and spec.fp16_tflops < spec.fp32_tflops * _FP16_CRIPPLED_RATIO


def caveats(
    classes: list[ClassResult], tier: str, slot: GpuSlot | None, host: HostKey, c: ReadinessCriteria
) -> list[tuple[Reason, str]]:
    """What weighs on the GPU at the tier it reaches (or the smallest class if none)."""
    if slot is None:
        return []
    ref = classes[max(tier_rank(tier) - 1, 0)]
    out: list[tuple[Reason, str]] = []
    spec = slot.spec
    if is_fp16_crippled(spec):
        ratio = round(spec.fp32_tflops / max(spec.fp16_tflops, 1e-9))
        out.append((Reason.FP16_RATE, f"FP16 runs at 1:{ratio} of FP32: llama.cpp uses FP32/int8 kernels,"
                    " prefill is slow, vLLM and training are out"))  # fmt: skip
    link = slot.effective_link
    if ref.fits and ref.load_seconds > c.slow_load_seconds:
        what = f"{ref.model} {ref.quant} in {ref.load_seconds:.0f} s"
        if ref.load_seconds_link >= ref.load_seconds_disk:
            out.append((Reason.PCIE_LINK, f"{link} loads {what} and rules out tensor parallel"))
        else:
            out.append((Reason.DISK_SPEED, f"the disk loads {what}"))
    if link.lanes < 4 and not any(r == Reason.PCIE_LINK for r, _ in out):
        out.append((Reason.PCIE_LINK, f"{link}: no tensor parallel; layer split only"))
    if host.ram_gib is not None and ref.model_file_gib > 0 and host.ram_gib < ref.model_file_gib:
        out.append((Reason.HOST_RAM, f"{host.ram_gib:g} GiB host RAM < {ref.model_file_gib:.1f} GiB model"
                    " file: stream it to the GPU, never mmap-copy it"))  # fmt: skip
    if host.cores_per_gpu is not None and host.cores_per_gpu < c.min_cores_per_gpu:
        out.append((Reason.CPU_CORES, f"{host.cores_per_gpu:g} CPU cores per GPU (< {c.min_cores_per_gpu:g}):"
                    " tokenizing and sampling for many streams will lag"))  # fmt: skip
    if host.disk_gib is not None and host.disk_gib < max(c.min_disk_gib, ref.model_file_gib):
        out.append(
            (
                Reason.DISK_SPACE,
                f"{host.disk_gib:g} GiB disk (< {c.min_disk_gib:g} GiB for a model store)",
            )
        )
    if host.hot:
        out.append((Reason.THERMALS, f"at or above {c.max_temperature_c:g} °C core or"
                    f" {c.max_memory_temperature_c:g} °C memory: it will throttle under sustained load"))  # fmt: skip
    if host.reserved:
        out.append((Reason.RESERVED, "the operator reserved this GPU for mining"))
    return out


def recommend(
    classes: list[ClassResult],
    tier: str,
    ready: bool,
    embeddings: EmbeddingResult | None,
    finetune: FinetuneResult,
    host: HostKey,
) -> tuple[Use, list[Use], str]:
    uses: list[Use] = []
    text = ""
    if ready:
        best = classes[tier_rank(tier) - 1]
        uses.append(Use.SERVE)
        text = (
            f"serve {best.model_class.value}: {best.model} {best.quant}, up to"
            f" {best.max_context // 1024}k context, {best.decode_tps:.0f} tokens/s"
        )
    ft_class = finetune.largest_qlora
    if ft_class is not None and ft_class.rank >= ModelClass.B7_9.rank:
        uses.append(Use.FINE_TUNE)
        text = text or f"fine-tune up to {ft_class.value} models with QLoRA"
    small = tier_rank(tier) >= 1
    if small or (embeddings is not None and embeddings.usable):
        uses.append(Use.EMBEDDINGS_BATCH)
        text = text or (
            "embeddings, small (<=3B) models, batch jobs" if small else "embeddings and batch jobs"
        )
    if host.mining:
        uses.append(Use.KEEP_MINING)
    uses.append(Use.SELL)
    if host.reserved:
        return (
            Use.KEEP_MINING,
            [Use.KEEP_MINING, *(u for u in uses if u != Use.KEEP_MINING)],
            "keep mining: reserved by the operator",
        )
    if uses[0] == Use.KEEP_MINING:
        text = "keep mining: no AI workload meets the criteria here"
    elif uses[0] == Use.SELL:
        text = "sell: no AI workload meets the criteria and it is not mining"
    return uses[0], uses, text


def blocker_detail(reason: Reason, result: ClassResult, slot: GpuSlot | None, c: ReadinessCriteria) -> str:
    what = f"{result.model} {result.quant}" if result.model else result.model_class.value
    if slot is None:
        return reason.text
    if reason == Reason.VRAM:
        held = slot.used_by_others_gib
        extra = f", of which {held:g} GiB held by other processes (a miner?)" if held > 0 else ""
        return (
            f"{what} at {c.min_context // 1024}k context needs {result.vram_needed_gib:.1f} GiB;"
            f" {slot.spec.vram_gib:g} GiB card{extra}"
        )
    if reason == Reason.MEMORY_BANDWIDTH:
        return f"{what}: {result.decode_tps:.1f} tokens/s < {c.min_decode_tps:g} ({result.bottleneck})"
    if reason == Reason.FP16_RATE:
        return (
            f"{what}: {result.decode_tps:.1f} tokens/s < {c.min_decode_tps:g}, compute-bound on crippled FP16"
        )
    if reason in (Reason.PCIE_LINK, Reason.DISK_SPEED):
        if result.decode_tps < c.min_decode_tps and result.fits:
            return f"{what}: {result.decode_tps:.1f} tokens/s < {c.min_decode_tps:g} ({result.bottleneck})"
        return f"{what} loads in {result.load_seconds:.0f} s (> {c.max_load_seconds:g} s)"
    if reason == Reason.RUNTIME:
        return f"no GPU runtime runs on {slot.spec.name}; CPU-only never counts as AI-ready"
    return reason.text
