"""What a GPU can physically report: telemetry outside these bounds is a broken agent or a forged
report, refused (400 naming the field) rather than stored and summed into a site's kW.

The bounds are wide on purpose (a reading must be impossible, not unusual): GPUs throttle near
90-110 °C and no cooled card reads below -40 °C; the largest accelerators draw ~1.2 kW
(B200/MI355X board power); none has more than 1 TiB of memory; utilisation is a percentage.
"""

from __future__ import annotations

import math

from rigshift.readers.names import name_problem
from rigshift.run.contracts import RigTelemetry

BOUNDS: dict[str, tuple[float, float, str]] = {
    "temperature_c": (-40.0, 150.0, "°C"),
    "power_w": (0.0, 2000.0, "W"),
    "power_limit_w": (0.0, 2000.0, "W"),
    "utilization_pct": (0.0, 100.0, "%"),
    "memory_used_gib": (0.0, 1024.0, "GiB"),
    "memory_total_gib": (0.0, 1024.0, "GiB"),
    "memory_used_by_others_gib": (0.0, 1024.0, "GiB"),
}
MAX_GPU_INDEX = 1023


def telemetry_problem(report: RigTelemetry) -> tuple[str, str] | None:
    """(what is wrong, the field's path) for the first impossible value of the report, or None."""
    if (problem := name_problem(report.rig)) is not None:
        return f"rig: {problem}", "rig"
    if not math.isfinite(report.timestamp):
        return "timestamp must be finite unix seconds", "timestamp"
    for i, gpu in enumerate(report.gpus):
        where = f"gpus[{i}]"
        if not 0 <= gpu.index <= MAX_GPU_INDEX:
            return f"GPU index {gpu.index} is outside 0..{MAX_GPU_INDEX}", f"{where}.index"
        for field in ("uuid", "model"):
            text = getattr(gpu, field)
            if text is not None and (problem := name_problem(text)) is not None:
                return f"{field}: {problem}", f"{where}.{field}"
        for field, (low, high, unit) in BOUNDS.items():
            value = getattr(gpu, field)
            if value is not None and not (math.isfinite(value) and low <= value <= high):
                return f"{field} {value:g} {unit} is outside {low:g}..{high:g} {unit}", f"{where}.{field}"
        used, total = gpu.memory_used_gib, gpu.memory_total_gib
        if used is not None and total is not None and used > total * 1.01 + 0.01:
            return f"memory_used_gib {used:g} exceeds memory_total_gib {total:g}", f"{where}.memory_used_gib"
    return None
