"""What a whole rig can do together: N single-GPU replicas, or one bigger model split over its GPUs.

Mining rigs hang 6-12 cards off x1 risers, so a split is a llama.cpp layer split (activations
cross the link, weights do not) and never tensor parallel. Split options are estimated with the
rig's real links through `Hardware` with several `GpuSlot`s; identical rigs share one result.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rigshift.assess.criteria import CLASSES, TIER_NONE, tier_rank
from rigshift.assess.keys import ProfileKey, SlotKey
from rigshift.assess.profile import ProfileAssessor
from rigshift.assess.types import GpuProfile, Limit, Reason, RigAssessment, RigOption
from rigshift.estimate.types import Estimate, Workload
from rigshift.fleet.model import Rig
from rigshift.hosts import HostCapacity, host_capacity

# What the shared host rule (rigshift.hosts) needs of a rig: CPU cores, RAM and disk in GiB.
Host = tuple[int | None, float | None, float | None]

_RIG_REASONS = (Reason.HOST_RAM, Reason.CPU_CORES, Reason.DISK_SPACE)
# GiB each GPU keeps free of weights in a split (runtime context, compute buffers): a first guess
# of how many GPUs a split needs, corrected by the estimator's own verdict.
_SPLIT_HEADROOM_GIB = 0.75


class RigAssessor:
    def __init__(self, profiles: ProfileAssessor):
        self.profiles = profiles
        self._splits: dict[tuple[SlotKey, ...], list[RigOption]] = {}
        # Everything but the name depends only on the GPUs' profile keys: a farm of 13,000 rigs
        # has a few thousand distinct configurations, each worked out once.
        self._configs: dict[tuple[Host, tuple[ProfileKey, ...]], dict[str, Any]] = {}

    def assess(self, rig: Rig, keys: list[ProfileKey], gpu_profiles: list[GpuProfile]) -> RigAssessment:
        host: Host = (rig.cpu_cores, rig.ram_gib, rig.disk_gib)
        config = (host, tuple(keys))
        shared = self._configs.get(config)
        if shared is None:
            shared = self._configs[config] = self._assess_config(host, keys, gpu_profiles)
        # model_construct: every field comes from validated models or the validated fleet.
        return RigAssessment.model_construct(
            name=rig.name, site=rig.site, gpus=len(rig.gpus),
            vram_gib=round(sum(g.vram_gib for g in rig.gpus), 2), **shared,
        )  # fmt: skip

    def _assess_config(
        self, host: Host, keys: list[ProfileKey], gpu_profiles: list[GpuProfile]
    ) -> dict[str, Any]:
        options = self._replica_options(host, gpu_profiles) + self._split_options(host, keys, gpu_profiles)
        limits: dict[Reason, Limit] = {}
        for profile in gpu_profiles:
            for limit in profile.limits:
                if limit.reason in _RIG_REASONS:
                    limits.setdefault(limit.reason, limit)
        return {
            "ready_gpus": sum(p.headline_ready for p in gpu_profiles),
            "best_tier": max((p.tier for p in gpu_profiles), key=tier_rank, default=TIER_NONE),
            "options": options,
            "limits": list(limits.values()),
            "notes": _rig_notes(keys),
        }

    def capacity(self, host: Host, host_ram_gib: float, model_file_gib: float) -> HostCapacity:
        """The shared host rule (rigshift.hosts) for one replica of a model on this rig."""
        cores, ram, disk = host
        return host_capacity(
            cores,
            ram,
            host_ram_gib,
            self.profiles.criteria.host(),
            disk_gib=disk,
            model_file_gib=model_file_gib,
        )

    def _replica_options(self, host: Host, gpu_profiles: list[GpuProfile]) -> list[RigOption]:
        """One option per class that some GPUs serve alone: that many independent replicas, as
        many as the rig's host carries (CPU cores, RAM, disk: the rule plan and econ use too)."""
        out: list[RigOption] = []
        for model_class in reversed(CLASSES):
            serving = [r for p in gpu_profiles if (r := p.class_result(model_class)) is not None and r.usable]
            if not serving:
                continue
            slowest = min(serving, key=lambda r: r.decode_tps)
            model, quant = Counter((r.model, r.quant) for r in serving).most_common(1)[0][0]
            cap = self.capacity(
                host, max(r.host_ram_gib for r in serving), max(r.model_file_gib for r in serving)
            )
            usable = len(serving)
            count = min(usable, cap.replicas)
            if count == 0:
                continue
            held = ""
            if count < usable:  # the fastest GPUs get the replicas the host allows
                serving = sorted(serving, key=lambda r: r.decode_tps, reverse=True)[:count]
                slowest = serving[-1]
                held = f"; {usable - count} more GPU(s) fit but the host stops at {count} ({cap.detail})"
            out.append(
                RigOption(
                    kind="replicas",
                    model_class=model_class,
                    model=model or "",
                    quant=quant or "",
                    gpus_used=count,
                    replicas=count,
                    decode_tps_each=slowest.decode_tps,
                    decode_tps_total=round(sum(r.decode_tps for r in serving), 1),
                    context=slowest.context,
                    max_context=min(r.max_context for r in serving),
                    load_seconds=max(r.load_seconds for r in serving),
                    meets_criteria=True,
                    host_ram_gib=max(r.host_ram_gib for r in serving),
                    model_file_gib=max(r.model_file_gib for r in serving),
                    text=f"{count} × {model} {quant} replicas at >= {slowest.decode_tps:.0f} tokens/s each{held}",
                )
            )
        return out

    def _split_options(
        self, host: Host, keys: list[ProfileKey], gpu_profiles: list[GpuProfile]
    ) -> list[RigOption]:
        out = []
        for option in self._splits_of(keys, gpu_profiles):
            cap = self.capacity(host, option.host_ram_gib, option.model_file_gib)
            if cap.replicas == 0:
                continue
            if cap.replicas < option.replicas:
                option = option.model_copy(
                    update={
                        "replicas": cap.replicas,
                        "decode_tps_total": round(option.decode_tps_each * cap.replicas, 1),
                        "text": f"{option.text}; the host stops at {cap.replicas} ({cap.detail})",
                    }
                )
            out.append(option)
        return out

    def _splits_of(self, keys: list[ProfileKey], gpu_profiles: list[GpuProfile]) -> list[RigOption]:
        # Only GPUs that share the rig's most common GPU runtime join a split (one backend build).
        runtimes = Counter(p.gpu_runtime for p in gpu_profiles if p.gpu_runtime)
        if not runtimes:
            return []
        runtime = runtimes.most_common(1)[0][0]
        members = tuple(
            sorted(
                (k.slot for k, p in zip(keys, gpu_profiles, strict=True) if p.gpu_runtime == runtime),
                key=repr,  # one order for the same members, whatever their order in the rig
            )
        )
        if len(members) < 2:
            return []
        if members not in self._splits:
            self._splits[members] = self._compute_splits(members, runtime)
        return self._splits[members]

    def _compute_splits(self, members: tuple[SlotKey, ...], runtime: str) -> list[RigOption]:
        c = self.profiles.criteria
        # Largest free VRAM first: a split uses the fewest GPUs, the biggest ones.
        order = sorted(members, key=lambda k: k.vram_gib - k.used_by_others_gib, reverse=True)
        quant = c.quants()[0]  # the lowest acceptable quality fits the most
        out: list[RigOption] = []
        for model_class in CLASSES:
            for model in self.profiles.class_models[model_class]:
                workload = Workload(model, quant, c.min_context, runtime=runtime)
                alone = self.profiles.estimate(workload, (order[0],))
                if alone.fits:
                    break  # the rig's largest GPU holds it alone: a split buys no speed, replicas win
                found = self._smallest_split(workload, order, alone)
                if found is None:
                    continue
                k, est = found
                blockers = self.profiles.judge(est, self.profiles.known_slot(order[0]))
                meets = not blockers
                verdict = "" if meets else f" (below criteria: {', '.join(b.value for b in blockers)})"
                copies = len(order) // k
                out.append(
                    RigOption(
                        kind="split",
                        model_class=model_class,
                        model=model.key,
                        quant=quant,
                        gpus_used=k,
                        replicas=copies,
                        decode_tps_each=round(est.decode_tokens_per_s, 1),
                        decode_tps_total=round(est.decode_tokens_per_s * copies, 1),
                        context=c.min_context,
                        max_context=est.max_context,
                        load_seconds=round(est.load_seconds, 1),
                        split_ms_per_token=round(est.split_ms_per_token, 2),
                        bottleneck=est.bottleneck,
                        meets_criteria=meets,
                        host_ram_gib=est.memory.host_ram,
                        model_file_gib=round(est.memory.weights, 2),
                        text=_split_text(model.key, quant, k, len(order), est.decode_tokens_per_s, verdict),
                    )
                )
                break  # the largest model of the class that the rig holds; smaller ones add little
        return out

    def _smallest_split(
        self, workload: Workload, order: list[SlotKey], alone: Estimate
    ) -> tuple[int, Estimate] | None:
        """Fewest GPUs (largest first) the estimator says hold the model; None if all of them don't."""
        free = [k.vram_gib - k.used_by_others_gib for k in order]
        # Weights and KV cache must sit on the GPUs whatever the split: a rig with less free VRAM
        # in all cannot hold the model, and saying so needs no estimate.
        if sum(free) < alone.memory.weights + alone.memory.kv_cache:
            return None
        need = alone.memory.total
        start = next(
            (k for k in range(2, len(order) + 1) if sum(free[:k]) - k * _SPLIT_HEADROOM_GIB >= need), None
        )
        if start is None:
            start = len(order)
        for k in range(max(start, 2), len(order) + 1):
            est = self.profiles.estimate(workload, tuple(order[:k]))
            if est.fits:
                return k, est
        return None


def _split_text(model: str, quant: str, k: int, n: int, tps: float, verdict: str) -> str:
    copies, left = n // k, n % k
    head = (
        f"{model} {quant} as a {k}-way layer split"
        if copies == 1
        else f"{copies} × {model} {quant} as {k}-way layer splits"
    )
    spare = f", {left} GPU{'s' if left != 1 else ''} left for replicas" if left else ""
    return f"{head} at {tps:.1f} tokens/s{' each' if copies > 1 else ''}{verdict}{spare}"


def _rig_notes(keys: list[ProfileKey]) -> list[str]:
    notes: list[str] = []
    narrow = sum(1 for k in keys if k.slot.link is not None and k.slot.link[1] < 4)
    if narrow:
        notes.append(f"{narrow} GPU(s) on links narrower than x4: layer split only, no tensor parallel")
    if len({k.slot.vram_gib for k in keys}) > 1:
        notes.append(
            "mixed VRAM sizes: vLLM wants equal VRAM on every GPU of a replica; llama.cpp splits unevenly"
        )
    return notes
