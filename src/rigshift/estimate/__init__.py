"""How much memory inference takes on a GPU (or a group of GPUs), and how fast it runs.

Public entry point: `estimate(workload, hardware) -> Estimate`. Everything here is pure and
deterministic: no I/O, no clock, no globals beyond immutable tables.
"""

from rigshift.estimate.estimator import estimate
from rigshift.estimate.types import Estimate, GpuSlot, Hardware, MemoryEstimate, PcieLink, Workload

__all__ = ["Estimate", "GpuSlot", "Hardware", "MemoryEstimate", "PcieLink", "Workload", "estimate"]
