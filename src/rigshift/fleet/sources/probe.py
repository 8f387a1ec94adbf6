"""Probe this machine: its GPUs (NVML, amdsmi / rocm-smi) and host (CPU, RAM, disk) as one rig.

A machine without a GPU is not an empty rig: the probe says so plainly, with each library's
reason, as an EnvironmentProblem (exit 5).
"""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rigshift.errors import EnvironmentProblem
from rigshift.fleet.model import UNASSIGNED_SITE, Gpu
from rigshift.fleet.names import Resolver
from rigshift.fleet.sources.amd import Runner, probe_amd
from rigshift.fleet.sources.common import (
    GPU_FIELDS,
    EntryProblems,
    Parsed,
    assemble_fleet,
    at,
    convert_fields,
    gpus_from_entry,
    rig_from_values,
)
from rigshift.fleet.sources.nvml import probe_nvidia


@dataclass(frozen=True)
class HostInfo:
    hostname: str
    cpu_model: str | None = None
    cpu_cores: int | None = None
    ram_gib: float | None = None
    disk_gib: float | None = None


def cpu_model_name() -> str | None:
    """The CPU's model as Linux names it (/proc/cpuinfo's first "model name"); None elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def read_host_info() -> HostInfo:
    cpu_model = cpu_model_name()
    ram = None
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        ram = round(pages * page_size / 1024**3, 1)
    except (ValueError, OSError, AttributeError):
        pass
    try:
        disk = round(shutil.disk_usage("/").total / 1024**3, 1)
    except OSError:
        disk = None
    return HostInfo(socket.gethostname(), cpu_model, os.cpu_count(), ram, disk)


def probe_machine(
    resolver: Resolver,
    *,
    nvml: Any | None = None,
    amdsmi: Any | None = None,
    run: Runner | None = None,
    host: HostInfo | None = None,
    site: str = UNASSIGNED_SITE,
) -> Parsed:
    host = host or read_host_info()
    nvidia, nvidia_reason = probe_nvidia(nvml)
    amd, amd_reason = probe_amd(amdsmi, run)
    entries = nvidia + amd
    if not entries:
        raise EnvironmentProblem(
            f"no GPU found on this machine ({host.hostname}): {nvidia_reason}; {amd_reason}"
        )
    source = f"probe of {host.hostname}"
    parsed = Parsed("probe", source, assemble_fleet("fleet", []))
    problems = EntryProblems(source, at(None))
    gpus: list[Gpu] = []
    for i, entry in enumerate(entries):
        labels = entry.pop("labels", {})
        gpu_problems = EntryProblems(source, at(f"gpu {i}"))
        values = convert_fields(entry, GPU_FIELDS, gpu_problems)
        for gpu in gpus_from_entry(values, resolver, gpu_problems):
            gpu.labels.update(labels)
            gpus.append(gpu)
        problems.problems.extend(gpu_problems.problems)
    rig_values = {
        "name": host.hostname,
        "hostname": host.hostname,
        "site": site,
        **{
            k: v
            for k, v in (
                ("cpu_model", host.cpu_model),
                ("cpu_cores", host.cpu_cores),
                ("ram_gib", host.ram_gib),
                ("disk_gib", host.disk_gib),
            )
            if v
        },
    }
    # A card that could not be read fully is reported; the rest of the rig still stands.
    parsed.problems.extend(problems.problems)
    rig = rig_from_values(rig_values, gpus, EntryProblems(source, at(None)))
    parsed.fleet = assemble_fleet("fleet", [rig] if rig else [])
    return parsed
