"""Telemetry samplers over fake drivers, and the reporter's posting and retry behaviour."""

from __future__ import annotations

import json
from types import SimpleNamespace

import httpx

from rigshift.client.http import ControlPlaneClient
from rigshift.fleet.model import Gpu, Rig
from rigshift.run.contracts import RigTelemetry
from rigshift.run.telemetry import NvmlSampler, StaticSampler, TelemetryReporter, post_report

GIB = 1024**3


class FakeNvml:
    def nvmlInit(self) -> None: ...

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetMemoryInfo(self, h: int) -> SimpleNamespace:
        return SimpleNamespace(used=3 * GIB, total=12 * GIB)

    def nvmlDeviceGetUtilizationRates(self, h: int) -> SimpleNamespace:
        return SimpleNamespace(gpu=55)

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        return 120_500

    def nvmlDeviceGetPowerManagementLimit(self, h: int) -> int:
        if h == 1:
            raise RuntimeError("NVML_ERROR_NOT_SUPPORTED")  # CMP cards refuse some queries
        return 170_000

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> int:
        return 61 + h

    def nvmlDeviceGetUUID(self, h: int) -> bytes:
        return f"GPU-{h}".encode()

    def nvmlDeviceGetComputeRunningProcesses(self, h: int) -> list[SimpleNamespace]:
        return [SimpleNamespace(pid=10, usedGpuMemory=2 * GIB), SimpleNamespace(pid=11, usedGpuMemory=GIB)]

    def nvmlSystemGetProcessName(self, pid: int) -> bytes:
        return b"/opt/llama-server" if pid == 10 else b"t-rex"  # a miner still holds 1 GiB


def test_nvml_sampler_reads_each_card_and_survives_refused_queries() -> None:
    gpus = NvmlSampler(["geforce-rtx-3060-12gb"], nvml=FakeNvml()).sample()
    assert [g.index for g in gpus] == [0, 1]
    first, second = gpus
    assert first.model == "geforce-rtx-3060-12gb" and second.model is None
    assert first.power_w == 120.5 and first.power_limit_w == 170
    assert second.power_limit_w is None and second.temperature_c == 62
    assert first.memory_used_gib == 3 and first.memory_total_gib == 12
    assert first.memory_used_by_others_gib == 1  # the miner, not our llama-server
    assert first.uuid == "GPU-0" and first.utilization_pct == 55


def test_static_sampler_replays_the_fleet_entry() -> None:
    rig = Rig(
        name="r", site="s", gpus=[Gpu(model="m", vram_gib=8, temperature_c=70, vram_used_by_others_gib=0.5)]
    )
    [gpu] = StaticSampler(rig).sample()
    assert (gpu.model, gpu.memory_total_gib, gpu.temperature_c, gpu.memory_used_by_others_gib) == (
        "m",
        8,
        70,
        0.5,
    )


def test_reporter_posts_with_the_join_token_and_survives_failures() -> None:
    seen: list[httpx.Request] = []
    status = [204]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status[0])

    client = ControlPlaneClient("http://cp:8000/", "tok", transport=httpx.MockTransport(handler))
    rig = Rig(name="rig-7", site="s", gpus=[Gpu(model="m", vram_gib=8)])
    reporter = TelemetryReporter("rig-7", StaticSampler(rig), post_report(client), clock=lambda: 42.0)
    assert reporter.report_once()
    request = seen[0]
    assert str(request.url) == "http://cp:8000/internal/telemetry"
    assert request.headers["authorization"] == "Bearer tok"
    report = RigTelemetry.model_validate(json.loads(request.content))
    assert (report.rig, report.timestamp, report.gpus[0].model) == ("rig-7", 42.0, "m")
    status[0] = 401
    assert not reporter.report_once()
    assert (reporter.sent, reporter.failed) == (1, 1)
    assert "401" in (reporter.last_error or "")
