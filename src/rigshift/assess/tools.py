"""The assessment's seam: the shared `Toolkit` (rigshift.toolkit) under the name assess has used.

The assessment itself is pure; it reaches GPU specs, model specs, runtime support and estimates
only through a toolkit, so unit tests hand it a small fake and the real one is built once at the
entry point and shared with econ and plan.
"""

from __future__ import annotations

from rigshift.toolkit import (
    Estimator,
    GpuSpecLookup,
    ModelLookup,
    RuntimeLister,
    SpeedFactor,
    Toolkit,
    default_toolkit,
)

AssessTools = Toolkit


def default_tools() -> Toolkit:
    """The real catalogs and estimator (the GPU catalog is built on first use, ~0.3 s)."""
    return default_toolkit()


__all__ = [
    "AssessTools",
    "Estimator",
    "GpuSpecLookup",
    "ModelLookup",
    "RuntimeLister",
    "SpeedFactor",
    "default_tools",
]
