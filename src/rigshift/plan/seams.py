"""The planner's two seams: the catalogs it resolves names in and the estimator it asks.

The planner core takes these as arguments so unit tests pass small fakes; `default_seams()`
wires the real catalog and estimator for the CLI and the server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.model_spec import ModelSpec
from rigshift.catalog.models import load_model
from rigshift.errors import RigshiftError
from rigshift.estimate import estimate
from rigshift.estimate.types import Estimate, Hardware, Workload
from rigshift.fleet.model import UNRESOLVED_MODEL

Estimator = Callable[[Workload, Hardware], Estimate]


class Catalog(Protocol):
    def gpu(self, key: str) -> GpuSpec | None:
        """The spec for a fleet GPU's catalog key, or None when the key is unknown."""
        ...

    def model(self, name_or_path: str) -> ModelSpec:
        """Resolve a demand's model; raises UnknownNameError (with suggestions) when unknown."""
        ...


@dataclass(frozen=True)
class Seams:
    catalog: Catalog
    estimate: Estimator


class _RealCatalog:
    def gpu(self, key: str) -> GpuSpec | None:
        if key == UNRESOLVED_MODEL:
            return None
        try:
            return gpu_catalog().get(key)
        except RigshiftError:  # unknown key: the planner counts these GPUs as unusable
            return None

    def model(self, name_or_path: str) -> ModelSpec:
        return load_model(name_or_path)


def default_seams(estimator: Estimator | None = None) -> Seams:
    """The real catalogs and estimator; `estimator`: one corrected by stored measurements."""
    return Seams(catalog=_RealCatalog(), estimate=estimator or estimate)
