"""The assessment's one seam: the catalogs and the estimator it consults.

The assessment itself is pure; it reaches GPU specs, model specs, runtime support and estimates
only through an `AssessTools`, so unit tests can hand it a small fake and the real thing is
built once at the entry point (`default_tools()`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.model_spec import ModelSpec
from rigshift.estimate.types import Estimate, Hardware, Workload

# A GPU model's catalog key -> its spec; raises UnknownNameError for a key the catalog lacks.
GpuSpecLookup = Callable[[str], GpuSpec]
ModelLookup = Callable[[str], ModelSpec]
Estimator = Callable[[Workload, Hardware], Estimate]
RuntimeLister = Callable[[GpuSpec], list[str]]


@dataclass(frozen=True)
class AssessTools:
    gpu_spec: GpuSpecLookup
    model: ModelLookup
    estimate: Estimator
    runtimes_for: RuntimeLister  # GPU runtimes that run on a card, best first; never the CPU one


def default_tools() -> AssessTools:
    """The real catalogs and estimator."""
    from rigshift.catalog.gpus import gpu_catalog
    from rigshift.catalog.models import model_catalog
    from rigshift.estimate.estimator import estimate
    from rigshift.estimate.runtimes import runtimes_for

    return AssessTools(
        gpu_spec=gpu_catalog().get,
        model=model_catalog().get,
        estimate=estimate,
        runtimes_for=runtimes_for,
    )
