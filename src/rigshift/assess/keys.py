"""What an assessment verdict depends on, as hashable keys: one per group of identical GPUs.

A `ProfileKey` holds every property of a GPU and its rig that the verdict depends on and nothing
else, so a fleet of 100,000 GPUs collapses into a few thousand keys.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from rigshift.assess.criteria import ReadinessCriteria
from rigshift.fleet.model import UNRESOLVED_MODEL, Rig

UNRESOLVED_PREFIX = "unresolved:"
DEFAULT_DISK_READ_GBS = 0.5  # a SATA SSD, when the inventory does not say


# Keys are NamedTuples, not dataclasses: 100,000 GPUs build and hash 100,000 of them, and tuples
# do both in C. `_replace` gives the what-if variants the unlock actions need.
class SlotKey(NamedTuple):
    """What the estimator sees of one GPU (and the rig's disk, which only scales load time)."""

    gpu_model: str
    vram_gib: float
    link: tuple[int, int] | None  # (gen, lanes) as trained; None: unknown
    used_by_others_gib: float
    power_limit_w: float | None
    disk_read_gbs: float


class HostKey(NamedTuple):
    """What the verdict needs of the rig around a GPU, bucketed so similar rigs share a key."""

    ram_gib: float | None
    cores_per_gpu: float | None
    disk_gib: float | None
    hot: bool
    reserved: bool
    mining: bool


class ProfileKey(NamedTuple):
    slot: SlotKey
    host: HostKey

    @property
    def id(self) -> str:
        # Content-addressed: the same GPU in the same surroundings gets the same id in every run.
        return hashlib.sha1(repr(tuple(self)).encode()).hexdigest()[:12]


def _bucket(value: float | None, step: float) -> float | None:
    return None if value is None else round(round(value / step) * step, 4)


def rig_keys(rig: Rig, criteria: ReadinessCriteria) -> list[ProfileKey]:
    """The profile key of every GPU of a rig; the rig's own properties are bucketed once."""
    n = max(len(rig.gpus), 1)
    disk_read = _bucket(rig.disk_read_gbs, 0.01) or DEFAULT_DISK_READ_GBS
    ram = _bucket(rig.ram_gib, 0.5)
    cores = _bucket(rig.cpu_cores / n, 0.01) if rig.cpu_cores else None
    disk = _bucket(rig.disk_gib, 1.0)
    max_t, max_mem_t = criteria.max_temperature_c, criteria.max_memory_temperature_c
    keys = []
    for gpu in rig.gpus:
        pcie, power = gpu.pcie, gpu.power
        # A card the inventory could not name keeps what the source printed, so the summary
        # counts "unresolved:GeForce RTX 9999" apart from other unknown cards.
        model = gpu.model if gpu.model != UNRESOLVED_MODEL else UNRESOLVED_PREFIX + (gpu.reported_name or "?")
        limit = power.current if power is not None and power.current else None
        slot = SlotKey(
            model,
            round(gpu.vram_gib * 4) / 4,
            (pcie.gen, pcie.width) if pcie is not None else None,
            round(gpu.vram_used_by_others_gib * 4) / 4,
            None if limit is None else round(limit / 5) * 5.0,
            disk_read,
        )
        t, mt = gpu.temperature_c, gpu.memory_temperature_c
        hot = (t is not None and t >= max_t) or (mt is not None and mt >= max_mem_t)
        mining = gpu.miner_running or bool(gpu.hashrate_mhs)
        keys.append(ProfileKey(slot, HostKey(ram, cores, disk, hot, gpu.reserved_for_mining, mining)))
    return keys
