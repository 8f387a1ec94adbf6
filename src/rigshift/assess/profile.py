"""Assess one group of identical GPUs: which model classes it serves, what holds it back, what to do.

Keys (keys.py) group the GPUs; the cached estimator (estimates.py) answers for each; reasons.py
phrases the verdict. Each distinct key is assessed once per run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

from rigshift.assess.criteria import CLASSES, TIER_NONE, ModelClass, ReadinessCriteria, tier_rank
from rigshift.assess.estimates import CachedEstimator
from rigshift.assess.finetune import finetune_vram_gib, training_stack
from rigshift.assess.keys import UNRESOLVED_PREFIX, ProfileKey, SlotKey
from rigshift.assess.reasons import blocker_detail, caveats, is_fp16_crippled, recommend
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
from rigshift.estimate.types import Estimate, GpuSlot, PcieLink, Workload, safe_rate

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


class ProfileAssessor:
    """Assesses profile keys, caching specs, estimates and profiles; one per assessment run."""

    def __init__(self, tools: AssessTools, criteria: ReadinessCriteria):
        self.tools = tools
        self.criteria = criteria
        self._specs: dict[str, GpuSpec | None] = {}
        self.estimates = CachedEstimator(tools.estimate, tools.speed_factor, self.known_slot)
        self._slots: dict[SlotKey, GpuSlot | None] = {}
        self._profiles: dict[ProfileKey, GpuProfile] = {}
        self._classes: dict[SlotKey, list[ClassResult]] = {}
        self._verdicts: dict[ProfileKey, Verdict] = {}
        self._slot_verdicts: dict[
            SlotKey, tuple[GpuSlot | None, list[ClassResult], str, bool, list[tuple[Reason, str, ModelClass]]]
        ] = {}
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

    def estimate(self, workload: Workload, keys: tuple[SlotKey, ...]) -> Estimate:
        """The (cached, rescaled) estimate of `workload` layer-split over `keys`: see estimates.py."""
        return self.estimates.estimate(workload, keys)

    def slot(self, key: SlotKey) -> GpuSlot | None:
        """The estimator's view of a slot key; None for a card the catalog does not know."""
        if key not in self._slots:
            spec = self.spec(key.gpu_model, key.vram_gib)
            link = PcieLink(*key.link) if key.link else None
            self._slots[key] = (
                None if spec is None else GpuSlot(spec, link, key.used_by_others_gib, key.power_limit_w)
            )
        return self._slots[key]

    def known_slot(self, key: SlotKey) -> GpuSlot:
        slot = self.slot(key)
        if slot is None:  # estimates are only asked for cards the catalog knows
            raise KeyError(key.gpu_model)
        return slot

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
                result = self.class_result(slot, key, runtime, model_class, roomy)
                found.append(result)
                if not result.usable:
                    missed = result
        self._classes[key] = found
        return found

    def class_result(
        self, slot: GpuSlot, key: SlotKey, runtime: str, model_class: ModelClass, roomy: bool = False
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
            best, tried = self._best_quant(model, slot, key, runtime, roomy)
            if best is not None:
                return _class_result(model_class, True, model.key, best, tried[best][0], [], c.min_context)
            est, blockers = tried[lowest]
            nearest = (model.key, lowest, est, blockers)  # ends as the class's smallest model
        if nearest is None:  # a class with no reference models: nothing to serve
            return ClassResult(model_class=model_class, usable=False, context=c.min_context)
        name, quant, est, blockers = nearest
        return _class_result(model_class, False, name, quant, est, blockers, c.min_context)

    def _best_quant(
        self, model: ModelSpec, slot: GpuSlot, key: SlotKey, runtime: str, roomy: bool
    ) -> tuple[str | None, dict[str, tuple[Estimate, list[Reason]]]]:
        quants = self.criteria.quants()
        tried: dict[str, tuple[Estimate, list[Reason]]] = {}

        def passes(quant: str) -> bool:
            if quant not in tried:
                workload = Workload(model, quant, self.criteria.min_context, runtime=runtime)
                est = self.estimate(workload, (key,))
                tried[quant] = (est, self.judge(est, slot))
            return not tried[quant][1]

        if roomy and passes(quants[-1]):
            return quants[-1], tried
        if not passes(quants[0]):  # the lowest quality misses: every better quant misses too
            return None, tried
        return next((q for q in reversed(quants[1:]) if passes(q)), quants[0]), tried

    def embeddings(self, key: SlotKey, runtime: str) -> EmbeddingResult:
        model = self.embedding_model
        workload = Workload(
            model, self.criteria.embedding_quant, min(model.context_length, 2048), runtime=runtime
        )
        est = self.estimate(workload, (key,))
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
        weighing = caveats(classes, tier, slot, key.host, self.criteria)
        return _Judged(slot, classes, tier, ready, blocking, weighing)

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
            name = key.gpu_model.removeprefix(UNRESOLVED_PREFIX)
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
                **base, gpu_name=key.slot.gpu_model.removeprefix(UNRESOLVED_PREFIX), primary_reason=Reason.UNKNOWN_GPU, recommendation=use,
                uses=[use], recommendation_text="keep as is: name the card correctly to assess it",
            )  # fmt: skip
        spec = j.slot.spec
        runtime = self.gpu_runtime(spec)
        embeddings = self.embeddings(key.slot, runtime) if runtime else None
        finetune = self.finetune(spec, free_gib)
        if host.reserved and not j.ready:
            primary = Reason.RESERVED
        use, uses, text = recommend(j.classes, j.tier, j.ready, embeddings, finetune, host)
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
        return [(r, blocker_detail(r, nxt, slot, self.criteria), nxt.model_class) for r in nxt.blockers]


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
        host_ram_gib=est.memory.host_ram,
        runtime=est.runtime,
        bottleneck=est.bottleneck,
        blockers=blockers,
        notes=list(est.notes),
        provenance=est.provenance.label() if est.provenance else None,
        uncalibrated=bool(est.provenance and est.provenance.uncalibrated),
        decode_tps_safe=round(safe_rate(est, est.decode_tokens_per_s, est.decode_tps_low), 1),
        prefill_tps_safe=round(safe_rate(est, est.prefill_tokens_per_s, est.prefill_tps_low), 1),
    )
