"""AMD GPUs of this machine: `amdsmi` when it imports, else `rocm-smi --json`.

Both seams are injectable: a fake `amdsmi` module object, and a `run(argv) -> stdout` function
for rocm-smi. rocm-smi renames its JSON keys between versions ("VRAM Total Memory (B)",
"Card series", "Card SKU", ...), so keys are found by what they contain, and a value that does
not parse costs that field only.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from typing import Any

from rigshift.fleet.sources.nvml import normalise_bus_id, query_or_none

_GIB = 1024**3
Runner = Callable[[list[str]], str]


def probe_amd(
    amdsmi: Any | None = None, run: Runner | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """GPU entries (GPU_FIELDS names, plus `labels`) and, when none could be read, the reason."""
    reasons = []
    if amdsmi is None:
        try:
            import amdsmi as amdsmi_module  # optional: ships with ROCm, not on PyPI for every version
        except ImportError:
            reasons.append("amdsmi is not installed")
        else:
            amdsmi = amdsmi_module
    if amdsmi is not None:
        entries, reason = _probe_amdsmi(amdsmi)
        if entries:
            return entries, None
        reasons.append(reason or "amdsmi sees no AMD GPU")
    entries, reason = probe_rocm_smi(run or _run)
    if entries:
        return entries, None
    reasons.append(reason or "rocm-smi sees no AMD GPU")
    return [], "; ".join(reasons)


def _probe_amdsmi(amdsmi: Any) -> tuple[list[dict[str, Any]], str | None]:
    try:
        amdsmi.amdsmi_init()
    except Exception as error:
        return [], f"amdsmi unavailable: {error or type(error).__name__}"
    try:
        handles = amdsmi.amdsmi_get_processor_handles() or []
        return [_amdsmi_device(amdsmi, h, i) for i, h in enumerate(handles)], None
    except Exception as error:
        return [], f"amdsmi failed: {error or type(error).__name__}"
    finally:
        query_or_none(getattr(amdsmi, "amdsmi_shut_down", None))


def _amdsmi_device(amdsmi: Any, handle: Any, index: int) -> dict[str, Any]:
    def ask(name: str, *args: Any) -> Any:
        return query_or_none(getattr(amdsmi, name, None), handle, *args)

    entry: dict[str, Any] = {"brand": "amd", "index": index, "labels": {}}
    asic = ask("amdsmi_get_gpu_asic_info") or {}
    name = asic.get("market_name")
    if isinstance(name, str) and name.strip():
        entry["model"] = name.strip()
    if isinstance(asic.get("target_graphics_version"), str):
        entry["labels"]["gfx_target"] = asic["target_graphics_version"]
    bdf = ask("amdsmi_get_gpu_device_bdf")
    if isinstance(bdf, str) and bdf:
        entry["bus_id"] = normalise_bus_id(bdf)
    uuid = ask("amdsmi_get_gpu_device_uuid")
    if isinstance(uuid, str) and uuid:
        entry["uuid"] = uuid
    vram = ask("amdsmi_get_gpu_vram_info") or {}
    usage = ask("amdsmi_get_gpu_vram_usage") or {}
    total_mb = _number(vram.get("vram_size")) or _number(usage.get("vram_total"))
    if total_mb:
        entry["vram_gib"] = round(total_mb / 1024, 3)
    # VRAM held by other processes: their own accounting when the library gives it, else all used.
    processes = ask("amdsmi_get_gpu_process_list")
    held = _process_vram_bytes(processes)
    if held is not None:
        entry["vram_used_by_others_gib"] = round(held / _GIB, 3)
    elif _number(usage.get("vram_used")) is not None:
        entry["vram_used_by_others_gib"] = round(_number(usage.get("vram_used")) / 1024, 3)  # type: ignore[operator]
    power = ask("amdsmi_get_power_cap_info") or {}
    for src, dst in (
        ("min_power_cap", "power_min_w"),
        ("max_power_cap", "power_max_w"),
        ("default_power_cap", "power_default_w"),
        ("power_cap", "power_limit_w"),
    ):
        microwatts = _number(power.get(src))
        if microwatts is not None:
            entry[dst] = microwatts / 1e6
    info = ask("amdsmi_get_power_info") or {}
    draw = _number(info.get("current_socket_power")) or _number(info.get("average_socket_power"))
    if draw is not None:
        entry["power_draw_w"] = draw
    pcie = ask("amdsmi_get_pcie_info") or {}
    static, metric = pcie.get("pcie_static") or {}, pcie.get("pcie_metric") or {}
    gen, width = _gen(metric.get("pcie_speed")), _number(metric.get("pcie_width"))
    max_gen, max_width = _gen(static.get("max_pcie_speed")), _number(static.get("max_pcie_width"))
    if gen and width:
        entry["pcie"] = {
            "gen": gen,
            "width": int(width),
            "max_gen": max_gen,
            "max_width": int(max_width) if max_width else None,
        }
    temperature = _temperature(amdsmi, handle)
    if temperature is not None:
        entry["temperature_c"] = temperature
    return entry


def _temperature(amdsmi: Any, handle: Any) -> float | None:
    kind = getattr(getattr(amdsmi, "AmdSmiTemperatureType", None), "EDGE", 0)
    metric = getattr(getattr(amdsmi, "AmdSmiTemperatureMetric", None), "CURRENT", 0)
    return _number(query_or_none(getattr(amdsmi, "amdsmi_get_temp_metric", None), handle, kind, metric))


def _process_vram_bytes(processes: Any) -> int | None:
    if not isinstance(processes, list):
        return None
    total = 0
    for process in processes:
        if not isinstance(process, dict):
            continue
        memory = process.get("memory_usage") or {}
        value = _number(memory.get("vram_mem")) if isinstance(memory, dict) else None
        total += int(value if value is not None else _number(process.get("mem")) or 0)
    return total


def _gen(speed: Any) -> int | None:
    """PCIe generation from a transfer rate, whatever the unit: MT/s (8000), GT/s (8), 0.1 GT/s (80)."""
    value = _number(speed)
    if not value:
        return None
    gts = value / 1000 if value >= 1000 else value / 10 if value >= 20 else value
    rates = {2.5: 1, 5.0: 2, 8.0: 3, 16.0: 4, 32.0: 5, 64.0: 6}
    nearest = min(rates, key=lambda r: abs(r - gts))
    return rates[nearest] if abs(nearest - gts) / nearest < 0.2 else None


# --- rocm-smi --json fallback ---

_ROCM_SMI = [
    "rocm-smi",
    "--showproductname",
    "--showmeminfo",
    "vram",
    "--showbus",
    "--showpower",
    "--showtemp",
    "--json",
]


def probe_rocm_smi(run: Runner) -> tuple[list[dict[str, Any]], str | None]:
    try:
        out = run(_ROCM_SMI)
    except FileNotFoundError:
        return [], "rocm-smi is not on PATH"
    except (subprocess.SubprocessError, OSError) as error:
        return [], f"rocm-smi failed: {error}"
    try:
        data = json.loads(out[out.find("{") :]) if "{" in out else {}
    except ValueError:
        return [], "rocm-smi printed no JSON"
    cards = [(k, v) for k, v in data.items() if isinstance(v, dict) and re.fullmatch(r"card\d+", str(k))]
    entries = [_rocm_card(int(k[4:]), v) for k, v in sorted(cards, key=lambda kv: int(kv[0][4:]))]
    return entries, None if entries else "rocm-smi lists no card"


def _rocm_card(index: int, card: dict[str, Any]) -> dict[str, Any]:
    def find(*needles: str) -> Any:
        for key, value in card.items():
            low = key.lower()
            if all(n in low for n in needles):
                return value
        return None

    entry: dict[str, Any] = {"brand": "amd", "index": index, "labels": {}}
    name = find("card series") or find("card model") or find("card sku")
    if isinstance(name, str) and name.strip():
        entry["model"] = name.strip()
    bus = find("pci bus")
    if isinstance(bus, str) and bus.strip():
        entry["bus_id"] = normalise_bus_id(bus)
    total, used = _number(find("vram total memory")), _number(find("vram total used"))
    if total:
        entry["vram_gib"] = round(total / _GIB, 3)
    if used is not None:
        entry["vram_used_by_others_gib"] = round(used / _GIB, 3)
    temperature = _number(find("temperature", "edge"))
    if temperature is not None:
        entry["temperature_c"] = temperature
    draw = _number(find("power", "(w)"))
    if draw is not None:
        entry["power_draw_w"] = draw
    gfx = find("gfx version")
    if isinstance(gfx, str) and gfx:
        entry["labels"]["gfx_target"] = gfx
    return entry


def _run(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        match = re.search(r"-?[0-9]+(?:\.[0-9]+)?", value)
        return float(match.group()) if match else None
    return None
