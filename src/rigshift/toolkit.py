"""The one tools object: catalog lookups and estimates, shared by assess, econ and plan.

Each stage used to wrap the GPU catalog, the model catalog and the estimator in its own seam and
cache (assess/tools.py, plan/seams.py, econ/throughput.py). A `Toolkit` is that seam once: unit
tests hand a stage a toolkit built from fakes, the entry points build the real one with
`default_toolkit()` and pass the same object to every stage of a run, so an estimate asked by the
assessment is not asked again by the economics.

`calibration` is where measurements correct the estimator's priors (rigshift bench): an object
whose `apply(estimate, workload, hardware)` returns the corrected estimate. None: the priors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.model_spec import ModelSpec
from rigshift.catalog.models import load_model
from rigshift.errors import RigshiftError
from rigshift.estimate.estimator import estimate as real_estimate
from rigshift.estimate.power import speed_factor_at_power_limit
from rigshift.estimate.runtimes import runtimes_for as real_runtimes_for
from rigshift.estimate.types import Estimate, Hardware, Workload
from rigshift.fleet.model import UNRESOLVED_MODEL

# A GPU model's catalog key -> its spec; raises UnknownNameError for a key the catalog lacks.
GpuSpecLookup = Callable[[str], GpuSpec]
# A model name (or a .gguf / config.json path) -> its spec; raises UnknownNameError when unknown.
ModelLookup = Callable[[str], ModelSpec]
Estimator = Callable[[Workload, Hardware], Estimate]
RuntimeLister = Callable[[GpuSpec], list[str]]
# (spec, power limit in W or None, "decode" | "prefill") -> speed factor in (0, 1]
SpeedFactor = Callable[[GpuSpec, float | None, str], float]


class Calibration(Protocol):
    """Measured corrections to the estimator's priors."""

    def apply(self, workload: Workload, hardware: Hardware, result: Estimate | None = None) -> Estimate:
        """`result` (the prior estimate) corrected by whatever was measured for this workload on
        this hardware (`rigshift.estimate.calibration.Calibration` is the real one)."""
        ...


def _signature(workload: Workload, hardware: Hardware) -> tuple[object, ...]:
    """A cheap cache key: hashing the nested frozen specs field by field costs more than the
    lookup saves. Models are held by the toolkit while their id() is in a key."""
    w = workload
    return (
        id(w.model),
        w.quant,
        w.context,
        w.parallel,
        w.kv_type,
        w.runtime,
        w.prompt_tokens,
        w.weights_bytes,
        w.flash_attention,
        tuple(
            (
                s.spec.key,
                s.spec.vram_gib,
                (s.link.gen, s.link.lanes) if s.link else None,
                s.used_by_others_gib,
                s.power_limit_w,
            )
            for s in hardware.gpus
        ),
        hardware.tensor_split,
        hardware.split_mode,
        hardware.disk_read_gbs,
        hardware.network_gbs,
        hardware.host_ram_gib,
    )


@dataclass(eq=False)  # one run's object: compared and hashed by identity
class Toolkit:
    """Catalogs and the (cached, optionally calibrated) estimator for one run."""

    gpu_spec: GpuSpecLookup
    model: ModelLookup
    estimator: Estimator
    runtimes_for: RuntimeLister
    speed_factor: SpeedFactor
    calibration: Calibration | None = None
    estimator_calls: int = field(default=0, init=False)
    _estimates: dict[tuple[object, ...], Estimate] = field(default_factory=dict, init=False, repr=False)
    # models whose id() is in a cache key stay alive
    _held: list[object] = field(default_factory=list, init=False, repr=False)
    _gpus: dict[str, GpuSpec | None] = field(default_factory=dict, init=False, repr=False)

    def gpu(self, key: str) -> GpuSpec | None:
        """The spec for a fleet GPU's catalog key; None for a card the catalog does not know
        (the stages carry such cards as "unassessed", never as an error)."""
        if key not in self._gpus:
            if key == UNRESOLVED_MODEL:
                self._gpus[key] = None
            else:
                try:
                    self._gpus[key] = self.gpu_spec(key)
                except RigshiftError:
                    self._gpus[key] = None
        return self._gpus[key]

    def estimate(self, workload: Workload, hardware: Hardware) -> Estimate:
        """The estimator's answer, once per distinct question, with the calibration applied."""
        key = _signature(workload, hardware)
        hit = self._estimates.get(key)
        if hit is None:
            self.estimator_calls += 1
            self._held.append(workload.model)
            hit = self.estimator(workload, hardware)
            if self.calibration is not None:
                hit = self.calibration.apply(workload, hardware, hit)
            self._estimates[key] = hit
        return hit


def default_toolkit(calibration: Calibration | None = None) -> Toolkit:
    """The real catalogs and estimator (the GPU catalog is built on first use, ~0.3 s)."""
    return Toolkit(
        gpu_spec=gpu_catalog().get,
        model=load_model,
        estimator=real_estimate,
        runtimes_for=real_runtimes_for,
        speed_factor=speed_factor_at_power_limit,  # type: ignore[arg-type]
        calibration=calibration,
    )


__all__ = [
    "Calibration",
    "Estimator",
    "GpuSpecLookup",
    "ModelLookup",
    "RuntimeLister",
    "SpeedFactor",
    "Toolkit",
    "default_toolkit",
]
