"""The assessment's one seam: the catalogs and the estimator it consults.

The assessment itself is pure; it reaches GPU specs, model specs, runtime support and estimates
only through an `AssessTools`, so unit tests can hand it a small fake and the real thing is
built once at the entry point (`default_tools()`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.model_spec import ModelSpec
from rigshift.catalog.models import model_catalog
from rigshift.estimate.estimator import estimate
from rigshift.estimate.power import speed_factor_at_power_limit
from rigshift.estimate.runtimes import runtimes_for
from rigshift.estimate.types import Estimate, Hardware, Workload

# A GPU model's catalog key -> its spec; raises UnknownNameError for a key the catalog lacks.
GpuSpecLookup = Callable[[str], GpuSpec]
ModelLookup = Callable[[str], ModelSpec]
Estimator = Callable[[Workload, Hardware], Estimate]
RuntimeLister = Callable[[GpuSpec], list[str]]
# (spec, power limit in W or None, "decode" | "prefill") -> speed factor in (0, 1]
SpeedFactor = Callable[[GpuSpec, float | None, str], float]


@dataclass(frozen=True)
class AssessTools:
    gpu_spec: GpuSpecLookup
    model: ModelLookup
    estimate: Estimator
    runtimes_for: RuntimeLister  # GPU runtimes that run on a card, best first; never the CPU one
    speed_factor: SpeedFactor  # how a power limit slows decode/prefill, as the estimator applies it


def default_tools(estimator: Estimator | None = None) -> AssessTools:
    """The real catalogs and estimator (the GPU catalog is built on first use, ~0.3 s);
    `estimator`: one corrected by measurements (`rigshift.measure.calibrate.estimator_for`)."""
    return AssessTools(
        gpu_spec=gpu_catalog().get,
        model=model_catalog().get,
        estimate=estimator or estimate,
        runtimes_for=runtimes_for,
        speed_factor=speed_factor_at_power_limit,  # type: ignore[arg-type]
    )
