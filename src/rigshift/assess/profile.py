"""Assess one group of identical GPUs: which model classes it serves, what holds it back, what to do.

A `ProfileKey` holds every property the verdict depends on and nothing else, so a fleet of
100,000 GPUs collapses into a few hundred keys and the estimator runs once per key and class.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any, NamedTuple

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
from rigshift.catalog.model_spec import ModelSpec
from rigshift.errors import UnknownNameError
from rigshift.estimate.types import Estimate, GpuSlot, Hardware, PcieLink, Workload
from rigshift.fleet.model import UNRESOLVED_MODEL, Rig

_UNRESOLVED_PREFIX = "unresolved:"
DEFAULT_DISK_READ_GBS = 0.5  # a SATA SSD, when the inventory does not say
REFERENCE_DISK_GBS = 0.5  # the disk every estimate is made with; rescaled per rig (see estimate())
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


# Keys are NamedTuples, not dataclasses: 100,000 GPUs build and hash 100,000 of them, and tuples
# do both in C. `_replace` gives the what-if variants the unlock actions need.
class SlotKey(NamedTuple):
    """What the estimator sees of one GPU (and the rig's disk, which only scales load time)."""

    gpu_model: str
    vram_gib: float
    link: tuple[int, int] | None  # (gen, lanes) as trained; None: unknown
    used_by_others_gib: float
    power_limit_w: float | None
    disk_read_gbs: float


class HostKey(NamedTuple):
    """What the verdict needs of the rig around a GPU, bucketed so similar rigs share a key."""

    ram_gib: float | None
    cores_per_gpu: float | None
    disk_gib: float | None
    hot: bool
    reserved: bool
    mining: bool


class ProfileKey(NamedTuple):
    slot: SlotKey
    host: HostKey

    @property
    def id(self) -> str:
        # Content-addressed: the same GPU in the same surroundings gets the same id in every run.
        return hashlib.sha1(repr(tuple(self)).encode()).hexdigest()[:12]


class Verdict(NamedTuple):
    tier: str
    ready: bool
    reasons: frozenset[Reason]  # every limit, blocking or not
    fast_load: bool  # the tier's model loads within criteria.slow_load_seconds


class _Judged(NamedTuple):
    slot: GpuSlot | None
    classes: list[ClassResult]
    tier: str
    ready: bool
    blocking: list[tuple[Reason, str, ModelClass]]
    caveats: list[tuple[Reason, str]]


def _bucket(value: float | None, step: float) -> float | None:
    return None if value is None else round(round(value / step) * step, 4)


def rig_keys(rig: Rig, criteria: ReadinessCriteria) -> list[ProfileKey]:
    """The profile key of every GPU of a rig; the rig's own properties are bucketed once."""
    n = max(len(rig.gpus), 1)
    disk_read = _bucket(rig.disk_read_gbs, 0.01) or DEFAULT_DISK_READ_GBS
    ram = _bucket(rig.ram_gib, 0.5)
    cores = _bucket(rig.cpu_cores / n, 0.01) if rig.cpu_cores else None
    disk = _bucket(rig.disk_gib, 1.0)
    max_t, max_mem_t = criteria.max_temperature_c, criteria.max_memory_temperature_c
    keys = []
    for gpu in rig.gpus:
        pcie, power = gpu.pcie, gpu.power
        # A card the inventory could not name keeps what the source printed, so the summary
        # counts "unresolved:GeForce RTX 9999" apart from other unknown cards.
        model = (
            gpu.model if gpu.model != UNRESOLVED_MODEL else _UNRESOLVED_PREFIX + (gpu.reported_name or "?")
        )
        limit = power.current if power is not None and power.current else None
        slot = SlotKey(
            model,
            round(gpu.vram_gib * 4) / 4,
            (pcie.gen, pcie.width) if pcie is not None else None,
            round(gpu.vram_used_by_others_gib * 4) / 4,
            None if limit is None else round(limit / 5) * 5.0,
            disk_read,
        )
        t, mt = gpu.temperature_c, gpu.memory_temperature_c
        hot = (t is not None and t >= max_t) or (mt is not None and mt >= max_mem_t)
        mining = gpu.miner_running or bool(gpu.hashrate_mhs)
        keys.append(ProfileKey(slot, HostKey(ram, cores, disk, hot, gpu.reserved_for_mining, mining)))
    return keys


def is_fp16_crippled(spec: GpuSpec) -> bool:
    return spec.fp32_tflops > 0 and spec.fp16_tflops < spec.fp32_tflops * _FP16_CRIPPLED_RATIO


class ProfileAssessor:
    """Assesses profile keys, caching specs, estimates and profiles; one per assessment run."""

    def __init__(self, tools: AssessTools, criteria: ReadinessCriteria):
        self.tools = tools
        self.criteria = criteria
        self._specs: dict[str, GpuSpec | None] = {}
        self._estimates: dict[tuple[Workload, tuple[GpuSlot, ...]], Estimate] = {}
        self._profiles: dict[ProfileKey, GpuProfile] = {}
        self._classes: dict[SlotKey, list[ClassResult]] = {}
        self._verdicts: dict[ProfileKey, Verdict] = {}
        self._slot_verdicts: dict[
            SlotKey, tuple[GpuSlot | None, list[ClassResult], str, bool, list[tuple[Reason, str, ModelClass]]]
        ] = {}
        self._adjusted: dict[tuple[Workload, tuple[GpuSlot, ...], float], Estimate] = {}
        self._power: dict[tuple[str, float, float | None, str], float] = {}
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

    def estimate(self, workload: Workload, slots: tuple[GpuSlot, ...], disk_read_gbs: float) -> Estimate:
        """The estimator's answer for `workload` layer-split over `slots`, cached by what matters.

        The estimator costs milliseconds a call (it searches for the largest context that fits),
        so two inputs that only rescale its answer are taken out of the cache key and applied
        afterwards, exactly as the estimator applies them:
        - the disk: load time from disk is file bytes / read rate, so it scales with 1/rate;
        - for one GPU, the link: it carries only the weights, once, at load time (1/rate too);
        - the power limit: decode and prefill speeds are multiplied by the slowest GPU's
          `speed_factor_at_power_limit` (rigshift.estimate.power); memory is unaffected.
        """
        outer = (workload, slots, disk_read_gbs)
        adjusted = self._adjusted.get(outer)
        if adjusted is None:
            adjusted = self._adjusted[outer] = self._estimate(workload, slots, disk_read_gbs)
        return adjusted

    def _estimate(self, workload: Workload, slots: tuple[GpuSlot, ...], disk_read_gbs: float) -> Estimate:
        single = len(slots) == 1
        if single:
            # One GPU: the link only carries the weights at load time (no activations cross it),
            # so the card's own link stands in for every riser and load time is rescaled below.
            reference: tuple[GpuSlot, ...] = (replace(slots[0], link=None, power_limit_w=None),)
        else:
            reference = tuple(s if s.power_limit_w is None else replace(s, power_limit_w=None) for s in slots)
        key = (workload, reference)
        found = self._estimates.get(key)
        if found is None:
            hardware = Hardware(gpus=reference, split_mode="layer", disk_read_gbs=REFERENCE_DISK_GBS)
            found = self._estimates[key] = self.tools.estimate(workload, hardware)
        changes: dict[str, Any] = {}
        link_s, disk_s = found.load_seconds_link, found.load_seconds_disk
        if single and slots[0].link is not None:
            own, actual = reference[0].effective_link.gbs, slots[0].effective_link.gbs
            if actual != own:
                link_s = found.load_seconds_link * own / actual
                changes.update(load_seconds_link=link_s)
        if disk_read_gbs != REFERENCE_DISK_GBS:
            disk_s = found.load_seconds_disk * REFERENCE_DISK_GBS / disk_read_gbs
            changes.update(load_seconds_disk=disk_s)
        if changes:
            changes.update(load_seconds=max(disk_s, link_s))
        if any(s.power_limit_w is not None for s in slots):
            decode = min(self.power_factor(s, "decode") for s in slots)
            prefill = min(self.power_factor(s, "prefill") for s in slots)
            if decode != 1.0 or prefill != 1.0:
                d1, pf = found.decode_tokens_per_s * decode, found.prefill_tokens_per_s * prefill
                changes.update(
                    decode_tokens_per_s=d1,
                    decode_tokens_per_s_total=found.decode_tokens_per_s_total * decode,
                    prefill_tokens_per_s=pf,
                    ttft_s=(workload.prompt_tokens / pf if pf else 0.0) + (1 / d1 if d1 else 0.0),
                )
        return replace(found, **changes) if changes else found

    def power_factor(self, slot: GpuSlot, phase: str) -> float:
        key = (slot.spec.key, slot.spec.tdp_w, slot.power_limit_w, phase)
        found = self._power.get(key)
        if found is None:
            found = self._power[key] = self.tools.speed_factor(slot.spec, slot.power_limit_w, phase)
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

    def classes(self, key: SlotKey) -> list[ClassResult]:
        """Every class for one GPU slot, smallest first, cached per slot."""
        found = self._classes.get(key)
        if found is not None:
            return found
        slot = self.slot(key)
        runtime = self.gpu_runtime(slot.spec) if slot else None
        if slot is None or runtime is None:
            blockers = [Reason.UNKNOWN_GPU if slot is None else Reason.RUNTIME]
            found = [ClassResult(model_class=c, usable=False, blockers=blockers) for c in CLASSES]
        else:
            found = []
            missed: ClassResult | None = None
            for model_class in CLASSES:
                if missed is not None:
                    # Larger classes have larger models: they need more VRAM, decode slower and
                    # load longer, so they miss for the same reasons. Not estimated, to save time.
                    found.append(
                        ClassResult(
                            model_class=model_class,
                            usable=False,
                            context=self.criteria.min_context,
                            blockers=list(missed.blockers),
                            notes=[f"not estimated: {missed.model_class.value} already misses the criteria"],
                        )
                    )
                    continue
                roomy = bool(found) and found[-1].quant == self.criteria.quants()[-1]
                result = self.class_result(slot, runtime, model_class, key.disk_read_gbs, roomy)
                found.append(result)
                if not result.usable:
                    missed = result
        self._classes[key] = found
        return found

    def class_result(
        self, slot: GpuSlot, runtime: str, model_class: ModelClass, disk_read_gbs: float, roomy: bool = False
    ) -> ClassResult:
        """The largest reference model of the class at the best quant that meets the criteria.

        Meeting the criteria is monotone in quality (a better quant is larger and slower), so the
        answer is found by probing: the best quant first when the smaller class passed at it
        (`roomy`: likely to pass again), else the lowest acceptable one first; then the rest.
        """
        c = self.criteria
        lowest = c.quants()[0]
        nearest: tuple[str, str, Estimate, list[Reason]] | None = None
        for model in self.class_models[model_class]:
            best, tried = self._best_quant(model, slot, runtime, disk_read_gbs, roomy)
            if best is not None:
                return _class_result(model_class, True, model.key, best, tried[best][0], [], c.min_context)
            est, blockers = tried[lowest]
            nearest = (model.key, lowest, est, blockers)  # ends as the class's smallest model
        if nearest is None:  # a class with no reference models: nothing to serve
            return ClassResult(model_class=model_class, usable=False, context=c.min_context)
        key, quant, est, blockers = nearest
        return _class_result(model_class, False, key, quant, est, blockers, c.min_context)

    def _best_quant(
        self, model: ModelSpec, slot: GpuSlot, runtime: str, disk_read_gbs: float, roomy: bool
    ) -> tuple[str | None, dict[str, tuple[Estimate, list[Reason]]]]:
        quants = self.criteria.quants()
        tried: dict[str, tuple[Estimate, list[Reason]]] = {}

        def passes(quant: str) -> bool:
            if quant not in tried:
                workload = Workload(model, quant, self.criteria.min_context, runtime=runtime)
                est = self.estimate(workload, (slot,), disk_read_gbs)
                tried[quant] = (est, self.judge(est, slot))
            return not tried[quant][1]

        if roomy and passes(quants[-1]):
            return quants[-1], tried
        if not passes(quants[0]):  # the lowest quality misses: every better quant misses too
            return None, tried
        return next((q for q in reversed(quants[1:]) if passes(q)), quants[0]), tried

    def embeddings(self, slot: GpuSlot, runtime: str) -> EmbeddingResult:
        model = self.embedding_model
        workload = Workload(
            model, self.criteria.embedding_quant, min(model.context_length, 2048), runtime=runtime
        )
        est = self.estimate(workload, (slot,), REFERENCE_DISK_GBS)
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

    def verdict(self, key: ProfileKey) -> Verdict:
        """Tier, readiness and reasons of a key without building its profile: the unlock what-ifs
        judge thousands of variant keys and need no more than this."""
        found = self._verdicts.get(key)
        if found is None:
            judged = self._judge(key)
            reasons = frozenset(r for r, _, _ in judged.blocking) | frozenset(r for r, _ in judged.caveats)
            ref = judged.classes[max(tier_rank(judged.tier) - 1, 0)]
            fast = ref.fits and ref.load_seconds <= self.criteria.slow_load_seconds
            found = self._verdicts[key] = Verdict(judged.tier, judged.ready, reasons, fast)
        return found

    def _judge(self, key: ProfileKey) -> _Judged:
        slot, classes, tier, ready, blocking = self._judge_slot(key.slot)
        caveats = self._caveats(classes, tier, slot, key.host)
        return _Judged(slot, classes, tier, ready, blocking, caveats)

    def _judge_slot(
        self, key: SlotKey
    ) -> tuple[GpuSlot | None, list[ClassResult], str, bool, list[tuple[Reason, str, ModelClass]]]:
        """The part of a verdict that depends on the GPU alone: shared by every host around it."""
        found = self._slot_verdicts.get(key)
        if found is not None:
            return found
        slot = self.slot(key)
        classes = self.classes(key)
        tier = TIER_NONE
        for result in classes:
            if result.usable:
                tier = result.model_class.value
        ready = tier_rank(tier) >= self.criteria.headline_class.rank
        if slot is None:
            name = key.gpu_model.removeprefix(_UNRESOLVED_PREFIX)
            detail = (
                f"{name!r} is not in the GPU catalog: correct the card's name in the inventory to assess it"
            )
            blocking = [(Reason.UNKNOWN_GPU, detail, classes[0].model_class)]
        else:
            blocking = self._blocking_limits(classes, tier, slot)
        found = self._slot_verdicts[key] = (slot, classes, tier, ready, blocking)
        return found

    def _assess(self, key: ProfileKey) -> GpuProfile:
        j = self._judge(key)
        host = key.host
        free_gib = max(key.slot.vram_gib - key.slot.used_by_others_gib, 0.0)
        limits = [Limit(reason=r, detail=d, blocking=True, model_class=mc) for r, d, mc in j.blocking] + [
            Limit(reason=r, detail=d, blocking=False) for r, d in j.caveats
        ]
        primary = j.blocking[0][0] if j.blocking else None
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
            "tier": j.tier,
            "headline_ready": j.ready,
            "classes": j.classes,
            "limits": limits,
        }
        if j.slot is None:
            use = Use.KEEP_MINING
            return GpuProfile(
                **base, gpu_name=key.slot.gpu_model.removeprefix(_UNRESOLVED_PREFIX), primary_reason=Reason.UNKNOWN_GPU, recommendation=use,
                uses=[use], recommendation_text="keep as is: name the card correctly to assess it",
            )  # fmt: skip
        spec = j.slot.spec
        runtime = self.gpu_runtime(spec)
        embeddings = self.embeddings(j.slot, runtime) if runtime else None
        finetune = self.finetune(spec, free_gib)
        if host.reserved and not j.ready:
            primary = Reason.RESERVED
        use, uses, text = self._recommend(j.classes, j.tier, j.ready, embeddings, finetune, host)
        return GpuProfile(
            **base, gpu_name=spec.name, vendor=spec.vendor, architecture=spec.architecture,
            runtimes=self.runtimes(spec), gpu_runtime=runtime, embeddings=embeddings, finetune=finetune,
            primary_reason=primary, recommendation=use, uses=uses, recommendation_text=text,
        )  # fmt: skip

    def _blocking_limits(
        self, classes: list[ClassResult], tier: str, slot: GpuSlot | None
    ) -> list[tuple[Reason, str, ModelClass]]:
        """What stops the next class up (the GPU's tier + 1)."""
        rank = tier_rank(tier)
        if rank >= len(classes):
            return []
        nxt = classes[rank]
        return [(r, _blocker_detail(r, nxt, slot, self.criteria), nxt.model_class) for r in nxt.blockers]

    def _caveats(
        self, classes: list[ClassResult], tier: str, slot: GpuSlot | None, host: HostKey
    ) -> list[tuple[Reason, str]]:
        """What weighs on the GPU at the tier it reaches (or the smallest class if none)."""
        if slot is None:
            return []
        c = self.criteria
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


def _blocker_detail(reason: Reason, result: ClassResult, slot: GpuSlot | None, c: ReadinessCriteria) -> str:
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
