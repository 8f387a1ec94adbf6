"""The fleet: sites, rigs and GPUs, read from inventories and probes."""

from rigshift.fleet.model import Fleet, Gpu, PcieState, PowerLimits, Rig, Site
from rigshift.fleet.store import load_fleet, save_fleet

__all__ = ["Fleet", "Gpu", "PcieState", "PowerLimits", "Rig", "Site", "load_fleet", "save_fleet"]
