"""GPU telemetry on a rig: sample NVML / amdsmi and post `RigTelemetry` to the control plane.

Samplers are the seam: `NvmlSampler` and `AmdSmiSampler` read the drivers (each optional query may
fail on its own: consumer and CMP cards refuse some), `StaticSampler` replays a fleet file's
values for simulated rigs and tests. `TelemetryReporter` posts a report every `interval_s` to
`POST {server}/internal/telemetry` with the join token; a failed post is logged and retried on
the next tick (only the latest reading matters, so nothing is queued).

"Memory used by others" is VRAM held by processes that are not inference backends (a miner still
running, a desktop): the planner must not count on it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from rigshift.client.http import ControlPlaneClient
from rigshift.fleet.model import Rig
from rigshift.fleet.sources.nvml import query_or_none  # one refused query costs one field, never the report
from rigshift.run.contracts import GpuTelemetry, RigTelemetry
from rigshift.ticker import Ticker

log = logging.getLogger(__name__)
_GIB = 1024**3
OUR_PROCESSES = ("llama-server", "llama_cpp", "vllm", "ray::")


class Sampler(Protocol):
    def sample(self) -> list[GpuTelemetry]: ...


class NvmlSampler:
    """NVIDIA cards through `pynvml` (nvidia-ml-py); `models` are catalog keys by GPU index."""

    def __init__(self, models: list[str] | None = None, nvml: Any | None = None) -> None:
        if nvml is None:
            import pynvml

            nvml = pynvml
        self.nvml = nvml
        self.models = models or []
        nvml.nvmlInit()

    def sample(self) -> list[GpuTelemetry]:
        n = self.nvml
        out = []
        for i in range(n.nvmlDeviceGetCount()):
            h = n.nvmlDeviceGetHandleByIndex(i)
            mem = query_or_none(n.nvmlDeviceGetMemoryInfo, h)
            util = query_or_none(n.nvmlDeviceGetUtilizationRates, h)
            power = query_or_none(n.nvmlDeviceGetPowerUsage, h)
            limit = query_or_none(n.nvmlDeviceGetPowerManagementLimit, h)
            procs = query_or_none(n.nvmlDeviceGetComputeRunningProcesses, h) or []
            others = sum(
                (p.usedGpuMemory or 0)
                for p in procs
                if not _is_ours(query_or_none(n.nvmlSystemGetProcessName, p.pid))
            )
            out.append(
                GpuTelemetry(
                    index=i,
                    uuid=_text(query_or_none(n.nvmlDeviceGetUUID, h)),
                    model=self.models[i] if i < len(self.models) else None,
                    temperature_c=query_or_none(n.nvmlDeviceGetTemperature, h, 0),  # NVML_TEMPERATURE_GPU
                    power_w=power / 1000 if power is not None else None,
                    power_limit_w=limit / 1000 if limit is not None else None,
                    utilization_pct=float(util.gpu) if util is not None else None,
                    memory_used_gib=mem.used / _GIB if mem is not None else None,
                    memory_total_gib=mem.total / _GIB if mem is not None else None,
                    memory_used_by_others_gib=others / _GIB,
                )
            )
        return out


class AmdSmiSampler:
    """AMD cards through `amdsmi` (ROCm); power values arrive in microwatts or watts by version."""

    def __init__(self, models: list[str] | None = None, amdsmi: Any | None = None) -> None:
        if amdsmi is None:
            import amdsmi as amdsmi_module

            amdsmi = amdsmi_module
        self.smi = amdsmi
        self.models = models or []
        amdsmi.amdsmi_init()

    def sample(self) -> list[GpuTelemetry]:
        s = self.smi
        out = []
        for i, h in enumerate(s.amdsmi_get_processor_handles()):
            vram = query_or_none(s.amdsmi_get_gpu_vram_usage, h) or {}
            power = query_or_none(s.amdsmi_get_power_info, h) or {}
            cap = query_or_none(s.amdsmi_get_power_cap_info, h) or {}
            activity = query_or_none(s.amdsmi_get_gpu_activity, h) or {}
            temp = query_or_none(
                s.amdsmi_get_temp_metric, h, s.AmdSmiTemperatureType.EDGE, s.AmdSmiTemperatureMetric.CURRENT
            )
            watts = power.get("current_socket_power") or power.get("average_socket_power")
            cap_w = _num(cap.get("power_cap"))
            if cap_w is not None and cap_w > 10_000:  # microwatts (amdsmi 6.x)
                cap_w /= 1e6
            out.append(
                GpuTelemetry(
                    index=i,
                    model=self.models[i] if i < len(self.models) else None,
                    temperature_c=_num(temp),
                    power_w=_num(watts),
                    power_limit_w=cap_w,
                    utilization_pct=_num(activity.get("gfx_activity")),
                    memory_used_gib=_scaled(vram.get("vram_used"), 1024),  # MiB
                    memory_total_gib=_scaled(vram.get("vram_total"), 1024),
                )
            )
        return out


class StaticSampler:
    """A rig's GPUs as its fleet entry describes them (simulated rigs, tests, CPU-only demo)."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig

    def sample(self) -> list[GpuTelemetry]:
        return [
            GpuTelemetry(
                index=g.index if g.index is not None else i,
                uuid=g.uuid,
                model=g.model,
                temperature_c=g.temperature_c,
                power_w=g.power_draw_w,
                power_limit_w=g.power.current if g.power else None,
                memory_total_gib=g.vram_gib,
                memory_used_by_others_gib=g.vram_used_by_others_gib,
            )
            for i, g in enumerate(self.rig.gpus)
        ]


def sampler_for(rig: Rig, simulate: bool = False) -> Sampler:
    """The driver that can read this rig's cards, else the fleet description."""
    if not simulate:
        models = [g.model for g in rig.gpus]
        brands = {g.brand for g in rig.gpus}
        for brand, cls in (("nvidia", NvmlSampler), ("amd", AmdSmiSampler)):
            if brand in brands or brands == {None}:
                with contextlib.suppress(Exception):  # driver or library missing: try the next
                    sampler: Sampler = cls(models)
                    if sampler.sample():
                        return sampler
    return StaticSampler(rig)


def post_report(control_plane: ControlPlaneClient) -> Callable[[RigTelemetry], None]:
    """Send one report to the control plane (a refusal or no answer raises; the reporter counts it)."""

    def post(report: RigTelemetry) -> None:
        control_plane.call("POST", "/internal/telemetry", content=report.model_dump_json())

    return post


class TelemetryReporter:
    def __init__(
        self,
        rig: str,
        sampler: Sampler,
        post: Callable[[RigTelemetry], None],
        *,
        interval_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rig = rig
        self.sampler = sampler
        self.post = post
        self.interval_s = interval_s
        self.clock = clock
        self.sent = 0
        self.failed = 0
        self.last_error: str | None = None
        # report_once counts and logs its own failures: `failed` sees only a bug of its own
        self._loop = Ticker("telemetry", self.report_once, lambda error: log.exception("telemetry loop"))

    def report_once(self) -> bool:
        try:
            self.post(RigTelemetry(rig=self.rig, timestamp=self.clock(), gpus=self.sampler.sample()))
        except Exception as error:  # network down, server restarting: next tick tries again
            self.failed += 1
            self.last_error = str(error)
            log.warning("telemetry not delivered: %s", error)
            return False
        self.sent += 1
        return True

    def start(self) -> None:
        self._loop.start(self.interval_s)

    def stop(self) -> None:
        self._loop.stop()


def _is_ours(name: Any) -> bool:
    text = _text(name) or ""
    return any(marker in text for marker in OUR_PROCESSES)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _num(value: Any) -> float | None:
    try:
        return float(value) if value is not None and value != "N/A" else None
    except (TypeError, ValueError):
        return None


def _scaled(value: Any, divisor: float) -> float | None:
    number = _num(value)
    return None if number is None else number / divisor
