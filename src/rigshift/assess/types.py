"""The assessment's result types: pydantic models with stable field names (docs/assessment.md).

GPUs that share every assessment-relevant property (card model, VRAM, link, VRAM held by others,
power limit, host RAM/cores/disk bucket, thermals) share one `GpuProfile`, which carries the
estimates. Each physical GPU gets a small `GpuAssessment` that names its profile, so a 100,000-GPU
fleet serialises to tens of MB, not hundreds.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from rigshift.assess.criteria import ModelClass, ReadinessCriteria

SCHEMA_VERSION = 1


class Reason(StrEnum):
    """What holds a GPU back. `blocking` limits stop a class; the others are caveats."""

    VRAM = "vram"
    MEMORY_BANDWIDTH = "memory_bandwidth"
    FP16_RATE = "fp16_rate"
    PCIE_LINK = "pcie_link"
    HOST_RAM = "host_ram"
    CPU_CORES = "cpu_cores"
    DISK_SPACE = "disk_space"
    DISK_SPEED = "disk_speed"
    RUNTIME = "runtime"
    THERMALS = "thermals"
    UNKNOWN_GPU = "unknown_gpu"
    RESERVED = "reserved_for_mining"

    @property
    def text(self) -> str:
        return REASON_TEXT[self]


REASON_TEXT: dict[Reason, str] = {
    Reason.VRAM: "not enough free VRAM",
    Reason.MEMORY_BANDWIDTH: "too slow: memory bandwidth bounds decode speed",
    Reason.FP16_RATE: "FP16 rate crippled (1:64): FP32/int8 kernels only, slow prefill, no vLLM",
    Reason.PCIE_LINK: "slow PCIe link: slow model load, no tensor parallel",
    Reason.HOST_RAM: "host RAM smaller than the model file",
    Reason.CPU_CORES: "too few CPU cores per GPU",
    Reason.DISK_SPACE: "disk too small for the model store",
    Reason.DISK_SPEED: "slow disk: slow model load",
    Reason.RUNTIME: "no GPU runtime (driver or runtime support)",
    Reason.THERMALS: "runs too hot",
    Reason.UNKNOWN_GPU: "GPU model not in the catalog",
    Reason.RESERVED: "reserved for mining by the operator",
}


class Use(StrEnum):
    """Recommended use of a GPU, best first."""

    SERVE = "serve"
    FINE_TUNE = "fine_tune"
    EMBEDDINGS_BATCH = "embeddings_batch"
    KEEP_MINING = "keep_mining"
    SELL = "sell"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Limit(_Model):
    reason: Reason
    detail: str
    blocking: bool  # True: this stops a model class; False: a caveat at the GPU's tier
    model_class: ModelClass | None = None  # the class it blocks, for blocking limits


class ClassResult(_Model):
    """The best a GPU (alone) does for one chat-model class, with the estimate behind it.

    When `usable` is false the figures are those of the lowest acceptable quant of the class's
    smallest model (the nearest miss), and `blockers` say why it fails.
    """

    model_class: ModelClass
    usable: bool
    model: str | None = None
    quant: str | None = None
    context: int = 0  # the context the verdict was checked at (criteria.min_context)
    max_context: int = 0  # largest context that fits at one stream
    fits: bool = False
    decode_tps: float = 0.0  # one stream
    prefill_tps: float = 0.0
    ttft_s: float = 0.0
    load_seconds: float = 0.0  # the slower of link and disk
    load_seconds_link: float = 0.0
    load_seconds_disk: float = 0.0
    vram_needed_gib: float = 0.0
    vram_capacity_gib: float = 0.0
    model_file_gib: float = 0.0
    host_ram_gib: float = 0.0  # what the runtime keeps in host RAM (the estimator's): the host rule
    runtime: str | None = None
    bottleneck: str | None = None
    blockers: list[Reason] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    # Where decode_tps comes from: "measured (2 rows)", "calibrated (3 rows, ±9%)",
    # "prior: polaris/vulkan, ±22%"; `uncalibrated` when every figure is a prior (nothing measured
    # on this card; the label adds "no published rows" when the class has none at all).
    provenance: str | None = None
    uncalibrated: bool = False
    # What a verdict that moves money counts on (issue: decide on the safe end): the low end of the
    # prior's interval when every figure is a prior, else the figure itself. None: not computed
    # (a result built by hand); the central figure stands.
    decode_tps_safe: float | None = None
    prefill_tps_safe: float | None = None

    @property
    def decision_decode_tps(self) -> float:
        return self.decode_tps if self.decode_tps_safe is None else self.decode_tps_safe

    @property
    def decision_prefill_tps(self) -> float:
        return self.prefill_tps if self.prefill_tps_safe is None else self.prefill_tps_safe


class EmbeddingResult(_Model):
    usable: bool
    model: str
    quant: str
    tokens_per_s: float = 0.0  # prompt processing rate: what embedding throughput is bound by
    vram_needed_gib: float = 0.0
    blockers: list[Reason] = Field(default_factory=list)


class FinetuneOption(_Model):
    method: Literal["qlora", "lora"]
    model_class: ModelClass
    model: str
    vram_needed_gib: float  # rough: see rigshift.assess.finetune
    fits: bool


class FinetuneResult(_Model):
    supported: bool  # the GPU has a training stack (CUDA cc >= 7.0, or ROCm)
    detail: str
    largest_qlora: ModelClass | None = None
    largest_lora: ModelClass | None = None
    options: list[FinetuneOption] = Field(default_factory=list)


class GpuProfile(_Model):
    """Everything assessed for one group of identical GPUs in identical surroundings."""

    id: str
    gpu_model: str
    gpu_name: str
    vendor: str | None = None
    architecture: str | None = None
    vram_gib: float
    vram_free_gib: float  # after what other processes (a miner) hold
    link: str | None = None  # "Gen1 x1" as trained; None: unknown, the card's own maximum assumed
    power_limit_w: float | None = None
    host_ram_gib: float | None = None
    cores_per_gpu: float | None = None
    disk_gib: float | None = None
    runtimes: list[str] = Field(default_factory=list)  # every runtime that runs here, CPU included
    gpu_runtime: str | None = None  # the llama.cpp GPU backend the estimates use
    tier: str  # "none" or a ModelClass value
    headline_ready: bool
    classes: list[ClassResult] = Field(default_factory=list)
    embeddings: EmbeddingResult | None = None
    finetune: FinetuneResult | None = None
    limits: list[Limit] = Field(default_factory=list)
    primary_reason: Reason | None = None  # what stops the next tier (or headline readiness)
    recommendation: Use
    uses: list[Use] = Field(default_factory=list)
    recommendation_text: str = ""
    gpus: int = 0  # how many GPUs of the fleet share this profile

    def class_result(self, model_class: ModelClass) -> ClassResult | None:
        return next((c for c in self.classes if c.model_class == model_class), None)


class GpuAssessment(_Model):
    """One physical GPU; the figures are in `FleetAssessment.profile(profile)`."""

    rig: str
    site: str
    index: int  # position within the rig's GPU list
    bus_id: str | None = None
    uuid: str | None = None
    gpu_model: str
    vram_gib: float
    profile: str
    tier: str
    ready: bool
    recommendation: Use
    primary_reason: Reason | None = None


class RigOption(_Model):
    """One way a whole rig can serve: N single-GPU replicas, or one model split over its GPUs."""

    kind: Literal["replicas", "split"]
    model_class: ModelClass
    model: str
    quant: str
    gpus_used: int
    replicas: int
    decode_tps_each: float  # one stream per replica
    decode_tps_total: float  # all replicas together, one stream each
    context: int
    max_context: int = 0
    load_seconds: float = 0.0
    split_ms_per_token: float = 0.0
    bottleneck: str | None = None
    meets_criteria: bool
    text: str
    host_ram_gib: float = 0.0  # per replica, from the estimator (the host rule adds the process)
    model_file_gib: float = 0.0


class RigAssessment(_Model):
    name: str
    site: str
    gpus: int
    vram_gib: float
    ready_gpus: int
    best_tier: str  # best single-GPU tier in the rig
    options: list[RigOption] = Field(default_factory=list)
    limits: list[Limit] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class TierShare(_Model):
    """GPUs that serve this class or a larger one."""

    tier: ModelClass
    gpus: int
    gpu_share: float
    vram_gib: float
    vram_share: float


class CardModelCount(_Model):
    gpu_model: str
    gpu_name: str
    gpus: int
    ready_gpus: int
    vram_gib: float
    tiers: dict[str, int] = Field(default_factory=dict)
    confidence: str = ""  # provenance of the headline class's speed on this card
    uncalibrated: bool = False  # every figure is a prior: nothing measured on this card


class UnassessedCard(_Model):
    """Cards the catalog does not know: counted and listed, left out of every share."""

    gpu_name: str  # as the inventory reported it
    gpus: int
    hint: str


class AmbiguousName(_Model):
    """A card name that fits several memory sizes with none given ("RX 570": 4 or 8 GB): assessed
    as the smallest, flagged until the inventory says which."""

    reported_name: str | None
    model: str  # the catalog card it was decided as
    decided_gib: float
    variants_gib: list[float]
    count: int
    rigs: list[str] = Field(default_factory=list)


class ReasonCount(_Model):
    reason: Reason
    text: str
    gpus_limited: int  # GPUs for which this is the primary reason (what stops their next tier)
    gpus_not_ready: int  # GPUs not AI-ready for which this is the primary reason
    gpus_blocked: int  # GPUs for which it blocks some class
    gpus_caveat: int  # GPUs where it is a caveat only


class Unlock(_Model):
    """A fix and what it buys, computed by re-assessing the affected groups with the fix applied."""

    action: Literal["replace_risers", "add_ram", "stop_miners", "add_disk", "add_cores", "improve_cooling"]
    text: str  # "replace risers on 40 rigs"
    rigs: int
    gpus_affected: int
    gpus_tier_up: int  # GPUs whose tier rises
    gpus_newly_ready: int  # GPUs that become AI-ready (headline criteria)
    vram_newly_ready_gib: float
    gpus_caveat_cleared: int  # GPUs that lose the caveat the fix addresses
    effect: str  # "240 GPUs then load a model in under 30 s"
    # Priced (unlocks.UnlockCosts, from econ's inputs); None when no prices were given.
    cost_usd: float | None = None
    cost_detail: str = ""  # "255 boards × $180"
    monthly_gain_usd: float | None = None  # what the GPUs it unlocks add a month
    gain_per_usd: float | None = None  # monthly gain per dollar spent (None: free or unpriced)


class FleetSummary(_Model):
    gpus: int
    rigs: int
    vram_gib: float
    ready_gpus: int
    ready_share: float
    ready_vram_gib: float
    ready_vram_share: float
    headline: str
    criteria: str
    tiers: list[TierShare] = Field(default_factory=list)
    by_card_model: list[CardModelCount] = Field(default_factory=list)
    by_reason: list[ReasonCount] = Field(default_factory=list)
    by_recommendation: dict[str, int] = Field(default_factory=dict)
    unlocks: list[Unlock] = Field(default_factory=list)
    # GPUs whose card the catalog does not know: in `gpus`, out of every share and tier.
    unassessed_gpus: int = 0
    unassessed: list[UnassessedCard] = Field(default_factory=list)
    # Names that fit several memory sizes: assessed as the smallest (a warning in every output).
    ambiguous_names: list[AmbiguousName] = Field(default_factory=list)


class FleetAssessment(_Model):
    schema_version: int = SCHEMA_VERSION
    fleet: str
    criteria: ReadinessCriteria
    summary: FleetSummary
    profiles: list[GpuProfile] = Field(default_factory=list)
    gpus: list[GpuAssessment] = Field(default_factory=list)
    rigs: list[RigAssessment] = Field(default_factory=list)

    _profile_index: dict[str, GpuProfile] | None = PrivateAttr(default=None)

    def profile(self, profile_id: str) -> GpuProfile:
        """The profile a `GpuAssessment.profile` names (indexed on first use)."""
        if self._profile_index is None:
            self._profile_index = {p.id: p for p in self.profiles}
        return self._profile_index[profile_id]
