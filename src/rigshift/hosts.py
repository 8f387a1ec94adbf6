"""The one host model: how many replicas a rig's CPU, RAM and disk can carry, and the speed floor.

assess, econ and plan all ask this module, so a rig that the assessment says serves N replicas of
a model is given N by the planner and earns for N in the economics. Before it, the assessment
counted every GPU that fits a model (a 2-core rig: 8 replicas), the planner capped replicas by
cores (2) and the economics booked all 8.

The rule, per rig and per model (a replica is one llama-server process):

    replicas <= floor(cpu_cores / cpu_cores_per_replica)                   (tokenizer, sampler, HTTP)
    replicas <= floor((ram_gib - host_reserve_ram_gib)
                      / (ram_gib_per_replica + the estimator's host RAM))  (process + CPU-side tensors)
    replicas = 0 when disk_gib < the model's weights                       (the file must be stored)

An unknown core count, RAM or disk puts no limit on that axis. The speed floor is the assessment's:
a deployment below `DEFAULT_MIN_DECODE_TPS` tokens/s for one stream is "unusable" everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

# Defaults of ReadinessCriteria (assess) and PlanOptions (plan); econ counts with DEFAULT_HOST_CRITERIA.
DEFAULT_CPU_CORES_PER_REPLICA = 1.0  # tokenizer + sampler + HTTP of one llama-server
DEFAULT_RAM_GIB_PER_REPLICA = 1.0  # one llama-server process besides the tensors it keeps on the CPU
DEFAULT_HOST_RESERVE_RAM_GIB = 1.0  # the mining OS itself
DEFAULT_MIN_DISK_GIB = 64.0  # room for a small model store (a caveat below it)
DEFAULT_MIN_DECODE_TPS = 20.0  # tokens/s for one stream: slower is not usable for chat
# VRAM kept free on every GPU besides the estimator's own overhead (CUDA/Vulkan context, buffers):
# none, so the planner fits exactly what the assessment says fits.
DEFAULT_VRAM_RESERVE_GIB = 0.0

UNLIMITED = 1 << 30  # replicas per rig when the fleet says nothing about its host


class HostCriteria(BaseModel):
    """What one replica takes from its rig's host, and the slowest stream worth serving."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_cores_per_replica: float = Field(default=DEFAULT_CPU_CORES_PER_REPLICA, ge=0)
    ram_gib_per_replica: float = Field(default=DEFAULT_RAM_GIB_PER_REPLICA, ge=0)
    host_reserve_ram_gib: float = Field(default=DEFAULT_HOST_RESERVE_RAM_GIB, ge=0)
    min_disk_gib: float = Field(default=DEFAULT_MIN_DISK_GIB, ge=0)
    min_decode_tps: float = Field(default=DEFAULT_MIN_DECODE_TPS, ge=0)

    def replica_ram_gib(self, estimator_host_ram_gib: float) -> float:
        """Host RAM one replica takes: the process plus what the estimator keeps on the CPU."""
        return self.ram_gib_per_replica + max(estimator_host_ram_gib, 0.0)


DEFAULT_HOST_CRITERIA = HostCriteria()


@lru_cache(maxsize=256)
def host_criteria(
    cpu_cores_per_replica: float,
    ram_gib_per_replica: float,
    host_reserve_ram_gib: float,
    min_decode_tps: float,
    min_disk_gib: float = DEFAULT_MIN_DISK_GIB,
) -> HostCriteria:
    """One HostCriteria per distinct set of values (built and validated once: callers ask often)."""
    return HostCriteria(
        cpu_cores_per_replica=cpu_cores_per_replica,
        ram_gib_per_replica=ram_gib_per_replica,
        host_reserve_ram_gib=host_reserve_ram_gib,
        min_decode_tps=min_decode_tps,
        min_disk_gib=min_disk_gib,
    )


@dataclass(frozen=True)
class HostCapacity:
    """How many replicas of one model a rig's host carries, and which resource stops it."""

    replicas: int
    limit: str | None  # "cpu", "ram", "disk" or None (no host limit below UNLIMITED)
    # What the verdict was made of, for `detail` (worded only when asked: the planner asks the
    # count tens of thousands of times, the words a handful).
    cpu_cores: float | None = None
    ram_gib: float | None = None
    replica_ram_gib: float = 0.0
    disk_gib: float | None = None
    model_file_gib: float = 0.0
    criteria: HostCriteria = DEFAULT_HOST_CRITERIA

    @property
    def unlimited(self) -> bool:
        return self.replicas >= UNLIMITED

    @property
    def detail(self) -> str:
        """The exact limit in words, with what would change it; "" when the host sets none."""
        c, n = self.criteria, self.replicas
        if self.limit == "disk":
            return (
                f"{self.disk_gib:g} GiB disk < {self.model_file_gib:.1f} GiB model file: a bigger disk would"
                " host it"
            )
        if self.limit == "cpu":
            return (
                f"{self.cpu_cores:g} CPU cores at {c.cpu_cores_per_replica:g} per replica: {n} replica(s)"
                " per rig; more cores (or a lower cpu_cores_per_replica) would host more"
            )
        if self.limit == "ram":
            return (
                f"{self.ram_gib:g} GiB RAM less {c.host_reserve_ram_gib:g} GiB for the OS, at"
                f" {self.replica_ram_gib:.2f} GiB per replica: {n} replica(s) per rig; more RAM would"
                " host more"
            )
        return ""


def host_capacity(
    cpu_cores: float | None,
    ram_gib: float | None,
    replica_host_ram_gib: float = 0.0,
    criteria: HostCriteria = DEFAULT_HOST_CRITERIA,
    *,
    disk_gib: float | None = None,
    model_file_gib: float = 0.0,
) -> HostCapacity:
    """The host rule above for one rig and one model; `replica_host_ram_gib` is the estimator's
    host RAM for the model (`Estimate.memory.host_ram`), not including `ram_gib_per_replica`."""
    return capacity_for_replica_ram(
        cpu_cores,
        ram_gib,
        criteria.replica_ram_gib(replica_host_ram_gib),
        criteria,
        disk_gib=disk_gib,
        model_file_gib=model_file_gib,
    )


def capacity_for_replica_ram(
    cpu_cores: float | None,
    ram_gib: float | None,
    replica_ram_gib: float,
    criteria: HostCriteria = DEFAULT_HOST_CRITERIA,
    *,
    disk_gib: float | None = None,
    model_file_gib: float = 0.0,
) -> HostCapacity:
    """`host_capacity` for a caller that already holds `criteria.replica_ram_gib(...)`."""
    c = criteria
    seen = (cpu_cores, ram_gib, replica_ram_gib, disk_gib, model_file_gib, c)
    if disk_gib is not None and model_file_gib > 0 and disk_gib < model_file_gib:
        return HostCapacity(0, "disk", *seen)
    best, limit = UNLIMITED, None
    if cpu_cores and c.cpu_cores_per_replica > 0:
        best, limit = int(cpu_cores // c.cpu_cores_per_replica), "cpu"
    if ram_gib and replica_ram_gib > 0:
        # the planner subtracts replica by replica with a 1e-9 tolerance: the same count here
        by_ram = int((max(0.0, ram_gib - c.host_reserve_ram_gib) + 1e-9) // replica_ram_gib)
        if by_ram < best:
            best, limit = by_ram, "ram"
    return HostCapacity(best, limit, *seen)


def replicas_on_rig(
    gpus_serving: int,
    cpu_cores: float | None,
    ram_gib: float | None,
    replica_host_ram_gib: float = 0.0,
    criteria: HostCriteria = DEFAULT_HOST_CRITERIA,
    *,
    gpus_per_replica: int = 1,
    disk_gib: float | None = None,
    model_file_gib: float = 0.0,
) -> int:
    """Replicas of one model a rig runs: one per `gpus_per_replica` serving GPUs, at most what its
    host carries. assess, econ and plan all count a rig's replicas with this function."""
    cap = host_capacity(
        cpu_cores, ram_gib, replica_host_ram_gib, criteria, disk_gib=disk_gib, model_file_gib=model_file_gib
    )
    return min(gpus_serving // max(gpus_per_replica, 1), cap.replicas)


__all__ = [
    "DEFAULT_CPU_CORES_PER_REPLICA",
    "DEFAULT_HOST_CRITERIA",
    "DEFAULT_HOST_RESERVE_RAM_GIB",
    "DEFAULT_MIN_DECODE_TPS",
    "DEFAULT_MIN_DISK_GIB",
    "DEFAULT_RAM_GIB_PER_REPLICA",
    "DEFAULT_VRAM_RESERVE_GIB",
    "UNLIMITED",
    "HostCapacity",
    "HostCriteria",
    "capacity_for_replica_ram",
    "host_capacity",
    "host_criteria",
    "replicas_on_rig",
]
