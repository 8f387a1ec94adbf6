"""NVIDIA GPUs of this machine through NVML (`nvidia-ml-py`, imported as `pynvml`).

The seam is the module object: tests pass a fake with the same function names. Every optional
query is allowed to fail on its own (consumer and CMP cards refuse some: serial, fan, power
constraints), so one refused call costs a field, never the card.

The PCIe link is read both as trained now and at most: a riser shows up as width 1. NVIDIA
cards drop the link *generation* when idle to save power, so `pcie.gen` read at idle can be
lower than under load; the width does not change, and width is what a riser limits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_GIB = 1024**3


def probe_nvidia(nvml: Any | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """GPU entries (GPU_FIELDS names, plus `labels`) and, when none could be read, the reason."""
    if nvml is None:
        try:
            import pynvml  # nvidia-ml-py
        except ImportError:
            return [], "nvidia-ml-py (pynvml) is not installed"
        nvml = pynvml
    try:
        nvml.nvmlInit()
    except Exception as error:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...: no NVIDIA here
        return [], f"NVML unavailable: {error or type(error).__name__}"
    try:
        count = nvml.nvmlDeviceGetCount()
        return [_device(nvml, nvml.nvmlDeviceGetHandleByIndex(i), i) for i in range(count)], (
            None if count else "NVML sees no NVIDIA GPU"
        )
    finally:
        query_or_none(nvml.nvmlShutdown)


def _device(nvml: Any, handle: Any, index: int) -> dict[str, Any]:
    def ask(name: str, *args: Any) -> Any:
        return query_or_none(getattr(nvml, name, None), handle, *args)

    entry: dict[str, Any] = {"brand": "nvidia", "index": index, "labels": {}}
    name = _text(ask("nvmlDeviceGetName"))
    if name:
        entry["model"] = name
    memory = ask("nvmlDeviceGetMemoryInfo")
    if memory is not None:
        entry["vram_gib"] = round(memory.total / _GIB, 3)
    for field, call in (("uuid", "nvmlDeviceGetUUID"), ("serial", "nvmlDeviceGetSerial")):
        value = _text(ask(call))
        if value:
            entry[field] = value
    pci = ask("nvmlDeviceGetPciInfo")
    bus = _text(getattr(pci, "busId", None)) if pci is not None else None
    if bus:
        entry["bus_id"] = normalise_bus_id(bus)
    cc = ask("nvmlDeviceGetCudaComputeCapability")
    if cc is not None:
        entry["labels"]["compute_capability"] = f"{cc[0]}.{cc[1]}"

    gen, width = ask("nvmlDeviceGetCurrPcieLinkGeneration"), ask("nvmlDeviceGetCurrPcieLinkWidth")
    max_gen, max_width = ask("nvmlDeviceGetMaxPcieLinkGeneration"), ask("nvmlDeviceGetMaxPcieLinkWidth")
    if gen and width:
        entry["pcie"] = {
            "gen": gen,
            "width": width,
            "max_gen": max_gen or None,
            "max_width": max_width or None,
        }

    constraints = ask("nvmlDeviceGetPowerManagementLimitConstraints")
    if constraints is not None:
        entry["power_min_w"], entry["power_max_w"] = constraints[0] / 1000, constraints[1] / 1000
    for field, call in (
        ("power_default_w", "nvmlDeviceGetPowerManagementDefaultLimit"),
        ("power_limit_w", "nvmlDeviceGetPowerManagementLimit"),
        ("power_draw_w", "nvmlDeviceGetPowerUsage"),
    ):
        milliwatts = ask(call)
        if milliwatts is not None:
            entry[field] = milliwatts / 1000
    temperature = ask("nvmlDeviceGetTemperature", getattr(nvml, "NVML_TEMPERATURE_GPU", 0))
    if temperature is not None:
        entry["temperature_c"] = float(temperature)
    fan = ask("nvmlDeviceGetFanSpeed")
    if fan is not None:
        entry["fan_pct"] = float(fan)

    # VRAM other processes hold (a miner still running): the placement must not count on it.
    processes = ask("nvmlDeviceGetComputeRunningProcesses") or []
    held = [getattr(p, "usedGpuMemory", None) for p in processes]
    entry["vram_used_by_others_gib"] = round(sum(b for b in held if isinstance(b, int)) / _GIB, 3)
    if processes:
        entry["labels"]["other_processes"] = str(len(processes))
    return entry


def normalise_bus_id(bus: str) -> str:
    """NVML prints '00000000:03:00.0' (8-digit domain); lspci, HiveOS and amdsmi '0000:03:00.0'."""
    bus = bus.strip().lower()
    domain, sep, rest = bus.partition(":")
    if sep and rest.count(":") == 1:
        try:
            return f"{int(domain, 16):04x}:{rest}"
        except ValueError:  # not hex: kept as written, so it still names the card it names
            return bus
    if bus.count(":") == 1:  # '03:00.0'
        return f"0000:{bus}"
    return bus


def query_or_none(call: Callable[..., Any] | None, *args: Any) -> Any:
    """A GPU library's answer, None where it has no such call or refuses it (NVML's
    NotSupported / NoPermission, amdsmi's AmdSmiLibraryException): the field stays unknown."""
    if call is None:
        return None
    try:
        return call(*args)
    except Exception:
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):  # older nvidia-ml-py returns bytes
        value = value.decode(errors="replace")
    return value.strip() if isinstance(value, str) and value.strip() else None
