"""What "AI-ready" means: the thresholds and reference models an assessment is judged against.

Every number that decides a verdict lives here, so a report can print its exact criteria and an
operator can tighten or relax them (`rigshift assess --min-tps 30`). The defaults follow the issue:
a chat model at >= Q4 quality, >= 8k context, >= 20 tokens/s for one stream.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rigshift.errors import UnknownNameError
from rigshift.hosts import (
    DEFAULT_CPU_CORES_PER_REPLICA,
    DEFAULT_HOST_RESERVE_RAM_GIB,
    DEFAULT_MIN_DECODE_TPS,
    DEFAULT_MIN_DISK_GIB,
    DEFAULT_RAM_GIB_PER_REPLICA,
    HostCriteria,
    host_criteria,
)
from rigshift.suggest import did_you_mean


class ModelClass(StrEnum):
    """Chat-model size classes, smallest first. A GPU's tier is the largest class it serves."""

    UP_TO_3B = "<=3B"
    B7_9 = "7-9B"
    B12_14 = "12-14B"
    B30_PLUS = "30B+"

    @property
    def rank(self) -> int:
        return _CLASS_ORDER.index(self) + 1


_CLASS_ORDER = list(ModelClass)
CLASSES: tuple[ModelClass, ...] = tuple(ModelClass)

# Tiers are "none" plus the classes; rank 0 is "none" so tiers compare as integers.
TIER_NONE = "none"


def tier_rank(tier: str) -> int:
    return 0 if tier == TIER_NONE else ModelClass(tier).rank


# llama.cpp quantizations from best to worst quality; the default floor is Q4_K_M ("usable").
QUALITY_ORDER: tuple[str, ...] = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K")


def _default_reference_models() -> dict[ModelClass, list[str]]:
    # Largest first within a class: a GPU reports the biggest model of the class it can serve.
    return {
        ModelClass.UP_TO_3B: ["llama-3.2-3b"],
        ModelClass.B7_9: ["llama-3.1-8b"],
        ModelClass.B12_14: ["qwen2.5-14b"],
        ModelClass.B30_PLUS: ["llama-3.1-70b", "qwen2.5-32b"],
    }


class ReadinessCriteria(BaseModel):
    """Thresholds for 'usable'. Stricter values never make a GPU more ready (tested as a property)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_quant: str = Field(default="Q4_K_M", description="lowest acceptable quality")
    best_quant: str = Field(default="Q8_0", description="highest quality worth trying")
    min_context: int = Field(default=8192, ge=512, description="tokens per sequence")
    min_decode_tps: float = Field(default=DEFAULT_MIN_DECODE_TPS, ge=0, description="one stream, tokens/s")
    max_load_seconds: float | None = Field(
        default=None, gt=0, description="a model that loads slower than this is not usable; None: no limit"
    )
    slow_load_seconds: float = Field(default=30.0, gt=0, description="load time worth flagging")
    headline_class: ModelClass = Field(
        default=ModelClass.B7_9, description="the class a GPU must serve to count as AI-ready"
    )
    reference_models: dict[ModelClass, list[str]] = Field(default_factory=_default_reference_models)
    embedding_model: str = "nomic-embed-text-v1.5"
    embedding_quant: str = "Q8_0"
    # The host model (rigshift.hosts), shared with plan and econ: a rig hosts one replica per
    # `min_cores_per_gpu` cores and per `ram_gib_per_replica` + the model's CPU-side tensors of RAM.
    min_cores_per_gpu: float = Field(
        default=DEFAULT_CPU_CORES_PER_REPLICA, ge=0, description="CPU cores per replica"
    )
    ram_gib_per_replica: float = Field(default=DEFAULT_RAM_GIB_PER_REPLICA, ge=0)
    host_reserve_ram_gib: float = Field(default=DEFAULT_HOST_RESERVE_RAM_GIB, ge=0)
    min_disk_gib: float = Field(
        default=DEFAULT_MIN_DISK_GIB, ge=0, description="room for a small model store"
    )
    max_temperature_c: float = Field(default=83.0, description="core temperature under load")
    max_memory_temperature_c: float = Field(default=100.0, description="GDDR6X junction")
    finetune_sequence: int = Field(default=2048, ge=128, description="tokens per training sample")
    # The what-if riser for the "replace risers" action: a Gen3 x4 riser/slot, which cheap
    # mining boards with M.2 or x4 slots can actually take (x16 needs a new motherboard).
    unlock_link_gen: int = Field(default=3, ge=1, le=5)
    unlock_link_lanes: int = Field(default=4, ge=1, le=16)

    @field_validator("min_quant", "best_quant", "embedding_quant")
    @classmethod
    def _known_quant(cls, value: str) -> str:
        upper = value.upper()
        if upper not in QUALITY_ORDER:
            raise UnknownNameError(
                f"unknown quantization {value!r}",
                field="quant",
                expected=", ".join(QUALITY_ORDER),
                suggestions=did_you_mean(value, QUALITY_ORDER),
            )
        return upper

    @field_validator("reference_models")
    @classmethod
    def _every_class_has_models(cls, value: dict[ModelClass, list[str]]) -> dict[ModelClass, list[str]]:
        # A file that names one class keeps the defaults of the others; an empty list would leave a
        # class that nothing can ever serve and break "serves this class or a larger one".
        merged = {**_default_reference_models(), **value}
        empty = [c.value for c, models in merged.items() if not models]
        if empty:
            raise ValueError(f"no reference model for {', '.join(empty)}: list at least one per class")
        return {c: merged[c] for c in CLASSES}

    def host(self) -> HostCriteria:
        """The host rule and speed floor these criteria judge with, as plan and econ take them."""
        return host_criteria(
            self.min_cores_per_gpu,
            self.ram_gib_per_replica,
            self.host_reserve_ram_gib,
            self.min_decode_tps,
            self.min_disk_gib,
        )

    def quants(self) -> tuple[str, ...]:
        """Usable quants from the lowest acceptable quality up to the best worth trying."""
        lo = QUALITY_ORDER.index(self.min_quant)
        hi = QUALITY_ORDER.index(self.best_quant)
        if hi > lo:  # best_quant set below min_quant: only the floor is usable
            hi = lo
        return tuple(reversed(QUALITY_ORDER[hi : lo + 1]))

    def describe(self) -> str:
        """The exact criteria behind the headline percentage, in one sentence."""
        load = f", loading in <= {self.max_load_seconds:g} s" if self.max_load_seconds else ""
        return (
            f"serves a {self.headline_class.value} chat model ({', '.join(self.models_for(self.headline_class))})"
            f" alone on one GPU with a GPU runtime (not CPU), at >= {self.min_quant},"
            f" >= {self.min_context // 1024}k context and >= {self.min_decode_tps:g} tokens/s"
            f" for one stream{load}"
        )

    def models_for(self, model_class: ModelClass) -> list[str]:
        return list(self.reference_models.get(model_class, []))
