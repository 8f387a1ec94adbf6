"""Where an estimate's numbers come from, and how sure they are.

Every speed rigshift prints is one of three kinds (docs/estimator.md, "where each number comes
from"):

- ``prior``: the estimator's physical model with efficiency factors fitted on published
  measurements of the card's architecture class (``estimate/priors.yaml``); ``rows`` is how many
  published rows the factor rests on, ``spread_pct`` how far those rows scatter around it;
- ``calibrated``: the prior corrected by measurements of this (card, runtime) taken on another
  model or quant, carried to this workload through the model (``estimate/correction.py``);
- ``measured``: this exact workload was measured on this card.

An architecture class with no published rows says so (``uncalibrated``) and carries a wide
interval instead of a confident number. This type is shared by the estimator and the
measurement store: keep its fields and their JSON stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Source = Literal["measured", "calibrated", "prior"]
SOURCES: tuple[Source, ...] = ("measured", "calibrated", "prior")


@dataclass(frozen=True)
class Provenance:
    """The origin and uncertainty of one estimate's decode, prefill and memory figures."""

    decode: Source
    prefill: Source
    memory: Source
    rows: int  # measurements the decode figure rests on (published rows for a prior)
    interval: tuple[float, float]  # decode tok/s, low and high
    arch_class: str  # "polaris/vulkan", "pascal/cuda", ...
    spread_pct: float  # ± share the interval spans around the decode figure, in %
    uncalibrated: bool  # no published row for this architecture class and runtime

    def __post_init__(self) -> None:
        for name in ("decode", "prefill", "memory"):
            if getattr(self, name) not in SOURCES:
                raise ValueError(f"provenance {name} must be one of {SOURCES}, got {getattr(self, name)!r}")
        low, high = self.interval
        if not 0 <= low <= high:
            raise ValueError(f"provenance interval must be 0 <= low <= high, got {self.interval}")

    def label(self) -> str:
        """One line for a terminal: "prior: polaris/vulkan, ±35%" or "calibrated (3 rows)"."""
        if self.decode == "measured":
            return f"measured ({self.rows} row{'s' if self.rows != 1 else ''})"
        if self.decode == "calibrated":
            return f"calibrated ({self.rows} row{'s' if self.rows != 1 else ''}, ±{self.spread_pct:.0f}%)"
        flag = ", uncalibrated" if self.uncalibrated else ""
        return f"prior: {self.arch_class}, ±{self.spread_pct:.0f}%{flag}"

    def to_json(self) -> dict[str, Any]:
        return {
            "decode": self.decode,
            "prefill": self.prefill,
            "memory": self.memory,
            "rows": self.rows,
            "interval": [round(self.interval[0], 2), round(self.interval[1], 2)],
            "arch_class": self.arch_class,
            "spread_pct": round(self.spread_pct, 1),
            "uncalibrated": self.uncalibrated,
        }


def prior_provenance(decode_tps: float, arch_class: str, spread_pct: float, rows: int) -> Provenance:
    """A prior's provenance: the interval is decode ÷ (1 + s) .. decode × (1 + s), symmetric in log."""
    s = spread_pct / 100
    return Provenance(
        decode="prior",
        prefill="prior",
        memory="prior",
        rows=rows,
        interval=(decode_tps / (1 + s), decode_tps * (1 + s)),
        arch_class=arch_class,
        spread_pct=spread_pct,
        uncalibrated=rows == 0,
    )
