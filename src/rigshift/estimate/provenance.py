"""Where an estimate's numbers come from, and how sure they are.

`measured`: a stored llama-bench row for exactly this card, runtime, model and quant.
`calibrated`: the prior corrected by measured rows of this card or its architecture class.
`prior`: the fitted efficiency factors alone, with their spread on the published rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Source = Literal["measured", "calibrated", "prior"]


@dataclass(frozen=True)
class Provenance:
    decode: Source
    prefill: Source
    memory: Source
    rows: int  # measured rows the numbers rest on (0 for a prior)
    interval: tuple[float, float]  # decode tokens/s, low and high
    arch_class: str
    spread_pct: float  # ± relative spread of decode (one sigma), percent
    uncalibrated: bool  # no published or measured row for this class: the prior is a guess

    def to_json(self) -> dict[str, Any]:
        return {
            "decode": self.decode,
            "prefill": self.prefill,
            "memory": self.memory,
            "rows": self.rows,
            "interval": [round(self.interval[0], 3), round(self.interval[1], 3)],
            "arch_class": self.arch_class,
            "spread_pct": round(self.spread_pct, 1),
            "uncalibrated": self.uncalibrated,
        }
