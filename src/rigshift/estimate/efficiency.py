"""A correction of a runtime's modelled kernel efficiency, as measurements on one card imply it.

Calibration does not copy a measured rate onto other models: it finds the factor by which the
runtime's decode (bandwidth) and prefill (matrix-rate) efficiencies must change for the model to
reproduce the measurement, and the estimator then runs with that factor on any model. Fixed
per-layer costs, KV-cache reads and the shape of the model stay modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rigshift.estimate.runtimes import RuntimeProfile


@dataclass(frozen=True)
class EfficiencyScale:
    decode: float = 1.0  # multiplies decode_efficiency_float and _quantized
    prefill: float = 1.0  # multiplies prefill_efficiency_int8 and _fp16

    def apply(self, profile: RuntimeProfile) -> RuntimeProfile:
        if self.decode == 1.0 and self.prefill == 1.0:
            return profile
        return replace(
            profile,
            decode_efficiency_float=profile.decode_efficiency_float * self.decode,
            decode_efficiency_quantized=profile.decode_efficiency_quantized * self.decode,
            prefill_efficiency_int8=profile.prefill_efficiency_int8 * self.prefill,
            prefill_efficiency_fp16=profile.prefill_efficiency_fp16 * self.prefill,
        )
