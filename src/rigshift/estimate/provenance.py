"""Where an estimate's numbers come from, and how sure they are.

Every speed rigshift prints is one of three kinds (docs/estimator.md, "where each number comes
from"):

- ``prior``: the estimator's physical model with efficiency factors fitted on published
  measurements of the card's architecture class (``estimate/priors.yaml``); ``rows`` is how many
  published rows the factor rests on, ``spread_pct`` how far those rows scatter around it;
- ``calibrated``: the prior corrected by measurements of this (card, runtime) taken on another
  model or quant, carried to this workload through the model (``estimate/correction.py``);
- ``measured``: this exact workload was measured on this card.

``uncalibrated`` is true when every figure is a prior: nothing was measured on this card, so a
decision that moves money reads the interval's low end (``interval[0]``). A prior's interval is
asymmetric: ``low_pct`` below (wide enough for every published row of its class), ``spread_pct``
above. A prior of a class with no published rows at all says so (``rows == 0``) and carries a wide
interval instead of a confident number. This type is shared by the estimator and the measurement
store: keep its fields and their JSON stable (fields are only ever added).
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
    spread_pct: float  # share the interval spans above the decode figure (and at least below), in %
    uncalibrated: bool  # every figure is a prior: nothing measured on this card
    low_pct: float | None = None  # share the interval spans below (None: spread_pct, symmetric)

    def __post_init__(self) -> None:
        for name in ("decode", "prefill", "memory"):
            if getattr(self, name) not in SOURCES:
                raise ValueError(f"provenance {name} must be one of {SOURCES}, got {getattr(self, name)!r}")
        low, high = self.interval
        if not 0 <= low <= high:
            raise ValueError(f"provenance interval must be 0 <= low <= high, got {self.interval}")

    @property
    def no_published_rows(self) -> bool:
        """A prior whose architecture class has no published measurement: an assumed factor."""
        return self.decode == "prior" and self.rows == 0

    def _span(self) -> str:
        low = self.low_pct if self.low_pct is not None else self.spread_pct
        if abs(low - self.spread_pct) < 0.5:
            return f"±{self.spread_pct:.0f}%"
        return f"−{(1 - 1 / (1 + low / 100)) * 100:.0f}%/+{self.spread_pct:.0f}%"

    def label(self) -> str:
        """One line for a terminal: "prior: polaris/vulkan, −58%/+25%" or "calibrated (3 rows)"."""
        if self.decode == "measured":
            return f"measured ({self.rows} row{'s' if self.rows != 1 else ''})"
        if self.decode == "calibrated":
            return f"calibrated ({self.rows} row{'s' if self.rows != 1 else ''}, ±{self.spread_pct:.0f}%)"
        flag = ", uncalibrated: no published rows" if self.no_published_rows else ""
        return f"prior: {self.arch_class}, {self._span()}{flag}"

    def to_json(self) -> dict[str, Any]:
        return {
            "decode": self.decode,
            "prefill": self.prefill,
            "memory": self.memory,
            "rows": self.rows,
            "interval": [round(self.interval[0], 2), round(self.interval[1], 2)],
            "arch_class": self.arch_class,
            "spread_pct": round(self.spread_pct, 1),
            "low_pct": round(self.low_pct if self.low_pct is not None else self.spread_pct, 1),
            "uncalibrated": self.uncalibrated,
        }


def prior_provenance(
    decode_tps: float, arch_class: str, spread_pct: float, rows: int, low_pct: float | None = None
) -> Provenance:
    """A prior's provenance: the interval is decode ÷ (1 + low) .. decode × (1 + s)."""
    s = spread_pct / 100
    low = max(low_pct if low_pct is not None else spread_pct, spread_pct)
    return Provenance(
        decode="prior",
        prefill="prior",
        memory="prior",
        rows=rows,
        interval=(decode_tps / (1 + low / 100), decode_tps * (1 + s)),
        arch_class=arch_class,
        spread_pct=spread_pct,
        uncalibrated=True,
        low_pct=low,
    )
