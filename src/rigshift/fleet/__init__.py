"""The fleet: sites, rigs and GPUs, read from inventories and probes."""

from rigshift.fleet.model import Fleet, Gpu, PcieState, PowerLimits, Rig, Site

__all__ = ["Fleet", "Gpu", "PcieState", "PowerLimits", "Rig", "Site"]
