"""Assess one group of identical GPUs: which model classes it serves, what holds it back, what to do.

A `ProfileKey` holds every property the verdict depends on and nothing else, so a fleet of
100,000 GPUs collapses into a few hundred keys and the estimator runs once per key and class.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from rigshift.assess.criteria import CLASSES, TIER_NONE, ModelClass, ReadinessCriteria, tier_rank
from rigshift.assess.finetune import finetune_vram_gib, training_stack
from rigshift.assess.tools import AssessTools
from rigshift.assess.types import (
    ClassResult,
    EmbeddingResult,
    FinetuneOption,
    FinetuneResult,
    GpuProfile,
    Limit,
    Reason,
    Use,
)
from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.errors import UnknownNameError
from rigshift.estimate.types import Estimate, GpuSlot, Hardware, PcieLink, Workload
from rigshift.fleet.model import Gpu, Rig

DEFAULT_DISK_READ_GBS = 0.5  # a SATA SSD, when the inventory does not say
# FP16 slower than 1/8 of FP32 marks a crippled rate (Pascal consumer cards and P10x run 1:64).
_FP16_CRIPPLED_RATIO = 1 / 8
# Order in which blockers are reported: the most fundamental first.
_BLOCKER_ORDER = (
    Reason.UNKNOWN_GPU,
    Reason.RUNTIME,
    Reason.VRAM,
    Reason.MEMORY_BANDWIDTH,
    Reason.FP16_RATE,
    Reason.PCIE_LINK,
    Reason.DISK_SPEED,
)


@dataclass(frozen=True)
class SlotKey:
    """What the estimator sees of one GPU."""

    gpu_model: str
    vram_gib: float
    link: tuple[int, int] | None  # (gen, lanes) as trained; None: unknown
    used_by_others_gib: float
    power_limit_w: float | None
    disk_read_gbs: float


@dataclass(frozen=True)
class HostKey:
    """What the verdict needs of the rig around a GPU, bucketed so similar rigs share a key."""

    ram_gib: float | None
    cores_per_gpu: float | None
    disk_gib: float | None
    hot: bool
    reserved: bool
    mining: bool


@dataclass(frozen=True)
class ProfileKey:
    slot: SlotKey
    host: HostKey

    @property
    def id(self) -> str:
        # Content-addressed: the same GPU in the same surroundings gets the same id in every run.
        return hashlib.sha1(repr(self).encode()).hexdigest()[:12]


def _bucket(value: float | None, step: float) -> float | None:
    return None if value is None else round(round(value / step) * step, 4)


def slot_key(rig: Rig, gpu: Gpu) -> SlotKey:
    link = (gpu.pcie.gen, gpu.pcie.width) if gpu.pcie else None
    power = gpu.power.current if gpu.power and gpu.power.current else None
    return SlotKey(
        gpu_model=gpu.model,
        vram_gib=_bucket(gpu.vram_gib, 0.25) or gpu.vram_gib,
        link=link,
        used_by_others_gib=_bucket(gpu.vram_used_by_others_gib, 0.25) or 0.0,
        power_limit_w=_bucket(power, 5.0),
        disk_read_gbs=_bucket(rig.disk_read_gbs, 0.01) or DEFAULT_DISK_READ_GBS,
    )


def host_key(rig: Rig, gpu: Gpu, criteria: ReadinessCriteria) -> HostKey:
    cores = rig.cpu_cores / max(len(rig.gpus), 1) if rig.cpu_cores else None
    hot = (gpu.temperature_c is not None and gpu.temperature_c >= criteria.max_temperature_c) or (
        gpu.memory_temperature_c is not None and gpu.memory_temperature_c >= criteria.max_memory_temperature_c
    )
    return HostKey(
        ram_gib=_bucket(rig.ram_gib, 0.5),
        cores_per_gpu=_bucket(cores, 0.05),
        disk_gib=_bucket(rig.disk_gib, 1.0),
        hot=hot,
        reserved=gpu.reserved_for_mining,
        mining=gpu.miner_running or bool(gpu.hashrate_mhs),
    )


def profile_key(rig: Rig, gpu: Gpu, criteria: ReadinessCriteria) -> ProfileKey:
    return ProfileKey(slot_key(rig, gpu), host_key(rig, gpu, criteria))


def is_fp16_crippled(spec: GpuSpec) -> bool:
    return spec.fp32_tflops > 0 and spec.fp16_tflops < spec.fp32_tflops * _FP16_CRIPPLED_RATIO


class ProfileAssessor:
    """Assesses profile keys, caching specs, estimates and profiles; one per assessment run."""

    def __init__(self, tools: AssessTools, criteria: ReadinessCriteria):
        self.tools = tools
        self.criteria = criteria
        self._specs: dict[str, GpuSpec | None] = {}
        self._estimates: dict[tuple[Workload, Hardware], Estimate] = {}
        self._profiles: dict[ProfileKey, GpuProfile] = {}
        self._runtimes: dict[GpuSpec, list[str]] = {}
        # Resolve every model name once, up front: a typo in the criteria is an input error.
        self.class_models = {c: [tools.model(n) for n in criteria.models_for(c)] for c in CLASSES}
        self.embedding_model = tools.model(criteria.embedding_model)

    # -- cached lookups -------------------------------------------------------------------------

    def spec(self, gpu_model: str, vram_gib: float | None = None) -> GpuSpec | None:
        if gpu_model not in self._specs:
            try:
                self._specs[gpu_model] = self.tools.gpu_spec(gpu_model)
            except UnknownNameError:
                self._specs[gpu_model] = None
        spec = self._specs[gpu_model]
        # Trust the inventory's VRAM where it differs from the catalog (a modded or cut-down card).
        if spec is not None and vram_gib is not None and abs(spec.vram_gib - vram_gib) > 0.5:
            spec = replace(spec, vram_gib=vram_gib)
        return spec

    def runtimes(self, spec: GpuSpec) -> list[str]:
        if spec not in self._runtimes:
            self._runtimes[spec] = list(self.tools.runtimes_for(spec))
        return self._runtimes[spec]

    def gpu_runtime(self, spec: GpuSpec) -> str | None:
        """The llama.cpp GPU backend the estimates use: GGUF quants are what mining cards serve."""
        return next(
            (r for r in self.runtimes(spec) if r.startswith("llama.cpp-") and r != "llama.cpp-cpu"), None
        )

    def estimate(self, workload: Workload, hardware: Hardware) -> Estimate:
        key = (workload, hardware)
        found = self._estimates.get(key)
        if found is None:
            found = self._estimates[key] = self.tools.estimate(workload, hardware)
        return found

    def slot(self, key: SlotKey) -> GpuSlot | None:
        spec = self.spec(key.gpu_model, key.vram_gib)
        if spec is None:
            return None
        link = PcieLink(*key.link) if key.link else None
        return GpuSlot(spec, link, key.used_by_others_gib, key.power_limit_w)

    # -- judging ------------------------------------------------------------------------------------

    def judge(self, est: Estimate, slot: GpuSlot) -> list[Reason]:
        """Why an estimate misses the criteria (empty: it meets them)."""
        c = self.criteria
        if not est.fits:
            return [Reason.VRAM]
        blockers: list[Reason] = []
        if est.decode_tokens_per_s < c.min_decode_tps:
            bottleneck = est.bottleneck.lower()
            if "pcie" in bottleneck or "link" in bottleneck:
                blockers.append(Reason.PCIE_LINK)
            elif "compute" in bottleneck and is_fp16_crippled(slot.spec):
                blockers.append(Reason.FP16_RATE)
            else:
                blockers.append(Reason.MEMORY_BANDWIDTH)
        if c.max_load_seconds is not None and est.load_seconds > c.max_load_seconds:
            slow_link = est.load_seconds_link >= est.load_seconds_disk
            blockers.append(Reason.PCIE_LINK if slow_link else Reason.DISK_SPEED)
        return sorted(set(blockers), key=_BLOCKER_ORDER.index)

    def class_result(
        self, slot: GpuSlot, hardware: Hardware, runtime: str, model_class: ModelClass
    ) -> ClassResult:
        """The largest reference model of the class at the best quant that meets the criteria."""
        c = self.criteria
        quants = c.quants()  # lowest acceptable quality first: if that misses, better ones miss too
        nearest: tuple[str, str, Estimate, list[Reason]] | None = None
        for model in self.class_models[model_class]:
            best: tuple[str, Estimate] | None = None
            for quant in quants:
                est = self.estimate(Workload(model, quant, c.min_context, runtime=runtime), hardware)
                blockers = self.judge(est, slot)
                if blockers:
                    if best is None:
                        nearest = (model.key, quant, est, blockers)
                    break
                best = (quant, est)
            if best is not None:
                return _class_result(model_class, True, model.key, best[0], best[1], [], c.min_context)
        if nearest is None:  # a class with no reference models: nothing to serve
            return ClassResult(model_class=model_class, usable=False, context=c.min_context)
        key, quant, est, blockers = nearest
        return _class_result(model_class, False, key, quant, est, blockers, c.min_context)

    def embeddings(self, hardware: Hardware, runtime: str) -> EmbeddingResult:
        model = self.embedding_model
        workload = Workload(
            model, self.criteria.embedding_quant, min(model.context_length, 2048), runtime=runtime
        )
        est = self.estimate(workload, hardware)
        return EmbeddingResult(
            usable=est.fits,
            model=model.key,
            quant=self.criteria.embedding_quant,
            tokens_per_s=round(est.prefill_tokens_per_s, 1),
            vram_needed_gib=round(est.memory.total, 2),
            blockers=[] if est.fits else [Reason.VRAM],
        )

    def finetune(self, spec: GpuSpec, free_gib: float) -> FinetuneResult:
        supported, detail = training_stack(spec, self.runtimes(spec))
        options: list[FinetuneOption] = []
        largest: dict[str, ModelClass | None] = {"qlora": None, "lora": None}
        for model_class in CLASSES:
            models = self.class_models[model_class]
            if not models:
                continue
            model = models[-1]  # the smallest reference model of the class
            for method in ("qlora", "lora"):
                need = finetune_vram_gib(model, method, self.criteria.finetune_sequence)
                fits = supported and need <= free_gib
                options.append(
                    FinetuneOption(
                        method=method,
                        model_class=model_class,
                        model=model.key,
                        vram_needed_gib=round(need, 1),
                        fits=fits,
                    )
                )
                if fits:
                    largest[method] = model_class
        return FinetuneResult(
            supported=supported,
            detail=detail,
            largest_qlora=largest["qlora"],
            largest_lora=largest["lora"],
            options=options,
        )

    # -- the profile --------------------------------------------------------------------------------

    def profile(self, key: ProfileKey) -> GpuProfile:
        found = self._profiles.get(key)
        if found is None:
            found = self._profiles[key] = self._assess(key)
        return found

    def _assess(self, key: ProfileKey) -> GpuProfile:
        slot = self.slot(key.slot)
        host = key.host
        free_gib = max(key.slot.vram_gib - key.slot.used_by_others_gib, 0.0)
        base: dict[str, Any] = {
            "id": key.id,
            "gpu_model": key.slot.gpu_model,
            "vram_gib": key.slot.vram_gib,
            "vram_free_gib": free_gib,
            "link": f"Gen{key.slot.link[0]} x{key.slot.link[1]}" if key.slot.link else None,
            "power_limit_w": key.slot.power_limit_w,
            "host_ram_gib": host.ram_gib,
            "cores_per_gpu": host.cores_per_gpu,
            "disk_gib": host.disk_gib,
        }
        if slot is None:
            limit = Limit(
                reason=Reason.UNKNOWN_GPU,
                detail=f"{key.slot.gpu_model!r} is not in the GPU catalog",
                blocking=True,
            )
            use = Use.KEEP_MINING
            return GpuProfile(
                **base,
                gpu_name=key.slot.gpu_model,
                tier=TIER_NONE,
                headline_ready=False,
                limits=[limit],
                primary_reason=Reason.UNKNOWN_GPU,
                recommendation=use,
                uses=[use],
                recommendation_text="keep as is: name the card correctly to assess it",
            )
        spec = slot.spec
        hardware = Hardware(gpus=(slot,), disk_read_gbs=key.slot.disk_read_gbs)
        runtime = self.gpu_runtime(spec)
        base.update(
            gpu_name=spec.name,
            vendor=spec.vendor,
            architecture=spec.architecture,
            runtimes=self.runtimes(spec),
            gpu_runtime=runtime,
        )
        if runtime is None:
            classes = [ClassResult(model_class=c, usable=False, blockers=[Reason.RUNTIME]) for c in CLASSES]
            embeddings = None
        else:
            classes = [self.class_result(slot, hardware, runtime, c) for c in CLASSES]
            embeddings = self.embeddings(hardware, runtime)
        finetune = self.finetune(spec, free_gib)
        tier = TIER_NONE
        for result in classes:
            if result.usable:
                tier = result.model_class.value
        headline_ready = tier_rank(tier) >= self.criteria.headline_class.rank
        limits = self._blocking_limits(classes, tier, slot) + self._caveats(classes, tier, slot, host)
        primary = next((lim.reason for lim in limits if lim.blocking), None)
        if host.reserved:
            primary = primary if headline_ready else Reason.RESERVED
        use, uses, text = self._recommend(classes, tier, headline_ready, embeddings, finetune, host)
        return GpuProfile(
            **base,
            tier=tier,
            headline_ready=headline_ready,
            classes=classes,
            embeddings=embeddings,
            finetune=finetune,
            limits=limits,
            primary_reason=primary,
            recommendation=use,
            uses=uses,
            recommendation_text=text,
        )

    def _blocking_limits(self, classes: list[ClassResult], tier: str, slot: GpuSlot) -> list[Limit]:
        """What stops the next class up (the GPU's tier + 1)."""
        rank = tier_rank(tier)
        if rank >= len(classes):
            return []
        nxt = classes[rank]
        return [
            Limit(
                reason=r,
                detail=_blocker_detail(r, nxt, slot, self.criteria),
                blocking=True,
                model_class=nxt.model_class,
            )
            for r in nxt.blockers
        ]

    def _caveats(self, classes: list[ClassResult], tier: str, slot: GpuSlot, host: HostKey) -> list[Limit]:
        """What weighs on the GPU at the tier it reaches (or the smallest class if none)."""
        c = self.criteria
        ref = classes[max(tier_rank(tier) - 1, 0)]
        out: list[Limit] = []

        def add(reason: Reason, detail: str) -> None:
            out.append(Limit(reason=reason, detail=detail, blocking=False))

        if is_fp16_crippled(slot.spec):
            add(
                Reason.FP16_RATE,
                f"FP16 runs at 1:{round(slot.spec.fp32_tflops / max(slot.spec.fp16_tflops, 1e-9))}"
                " of FP32: llama.cpp uses FP32/int8 kernels, prefill is slow, vLLM and training are out",
            )
        link = slot.effective_link
        if ref.fits and ref.load_seconds > c.slow_load_seconds:
            if ref.load_seconds_link >= ref.load_seconds_disk:
                add(
                    Reason.PCIE_LINK,
                    f"{link} loads {ref.model} {ref.quant} in {ref.load_seconds:.0f} s"
                    " and rules out tensor parallel",
                )
            else:
                add(Reason.DISK_SPEED, f"the disk loads {ref.model} {ref.quant} in {ref.load_seconds:.0f} s")
        if link.lanes < 4 and not any(lim.reason == Reason.PCIE_LINK for lim in out):
            add(Reason.PCIE_LINK, f"{link}: no tensor parallel; layer split only")
        if host.ram_gib is not None and ref.model_file_gib > 0 and host.ram_gib < ref.model_file_gib:
            add(
                Reason.HOST_RAM,
                f"{host.ram_gib:g} GiB host RAM < {ref.model_file_gib:.1f} GiB model file:"
                " stream it to the GPU, never mmap-copy it",
            )
        if host.cores_per_gpu is not None and host.cores_per_gpu < c.min_cores_per_gpu:
            add(
                Reason.CPU_CORES,
                f"{host.cores_per_gpu:g} CPU cores per GPU (< {c.min_cores_per_gpu:g}):"
                " tokenizing and sampling for many streams will lag",
            )
        if host.disk_gib is not None and host.disk_gib < max(c.min_disk_gib, ref.model_file_gib):
            add(Reason.DISK_SPACE, f"{host.disk_gib:g} GiB disk (< {c.min_disk_gib:g} GiB for a model store)")
        if host.hot:
            add(
                Reason.THERMALS,
                f"at or above {c.max_temperature_c:g} °C core or {c.max_memory_temperature_c:g} °C"
                " memory: it will throttle under sustained load",
            )
        if host.reserved:
            add(Reason.RESERVED, "the operator reserved this GPU for mining")
        return out

    def _recommend(
        self,
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


def _class_result(
    model_class: ModelClass,
    usable: bool,
    model: str,
    quant: str,
    est: Estimate,
    blockers: list[Reason],
    context: int,
) -> ClassResult:
    return ClassResult(
        model_class=model_class,
        usable=usable,
        model=model,
        quant=quant,
        context=context,
        max_context=est.max_context if est.fits else 0,
        fits=est.fits,
        decode_tps=round(est.decode_tokens_per_s, 1),
        prefill_tps=round(est.prefill_tokens_per_s, 1),
        ttft_s=round(est.ttft_s, 3),
        load_seconds=round(est.load_seconds, 1),
        load_seconds_link=round(est.load_seconds_link, 1),
        load_seconds_disk=round(est.load_seconds_disk, 1),
        vram_needed_gib=round(max(est.memory.per_gpu or (est.memory.total,)), 2),
        vram_capacity_gib=round(sum(est.memory.capacity), 2),
        model_file_gib=round(est.memory.weights, 2),
        runtime=est.runtime,
        bottleneck=est.bottleneck,
        blockers=blockers,
        notes=list(est.notes),
    )


def _blocker_detail(reason: Reason, result: ClassResult, slot: GpuSlot, c: ReadinessCriteria) -> str:
    what = f"{result.model} {result.quant}" if result.model else result.model_class.value
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
