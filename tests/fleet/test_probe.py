"""Probes of this machine through fakes of pynvml, amdsmi and rocm-smi (no GPU needed)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from rigshift.errors import EnvironmentProblem
from rigshift.fleet.sources.amd import probe_amd, probe_rocm_smi
from rigshift.fleet.sources.nvml import normalise_bus_id, probe_nvidia
from rigshift.fleet.sources.probe import HostInfo, probe_machine

GIB = 1024**3


class NVMLError(Exception):
    pass


def fake_pynvml(cards: list[dict], init_error: Exception | None = None) -> SimpleNamespace:
    """A module object with pynvml's function names over a list of card dicts."""

    def per_card(key):
        def call(handle, *args):
            value = cards[handle][key]
            if isinstance(value, Exception):
                raise value
            return value

        return call

    def init():
        if init_error:
            raise init_error

    return SimpleNamespace(
        NVML_TEMPERATURE_GPU=0,
        nvmlInit=init,
        nvmlShutdown=lambda: None,
        nvmlDeviceGetCount=lambda: len(cards),
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetName=per_card("name"),
        nvmlDeviceGetUUID=per_card("uuid"),
        nvmlDeviceGetSerial=per_card("serial"),
        nvmlDeviceGetPciInfo=lambda h: SimpleNamespace(busId=cards[h]["bus"]),
        nvmlDeviceGetMemoryInfo=lambda h: SimpleNamespace(total=cards[h]["total"], used=0, free=0),
        nvmlDeviceGetCudaComputeCapability=per_card("cc"),
        nvmlDeviceGetPowerManagementLimitConstraints=per_card("constraints"),
        nvmlDeviceGetPowerManagementDefaultLimit=per_card("default_mw"),
        nvmlDeviceGetPowerManagementLimit=per_card("limit_mw"),
        nvmlDeviceGetPowerUsage=per_card("usage_mw"),
        nvmlDeviceGetTemperature=per_card("temp"),
        nvmlDeviceGetFanSpeed=per_card("fan"),
        nvmlDeviceGetCurrPcieLinkGeneration=per_card("gen"),
        nvmlDeviceGetCurrPcieLinkWidth=per_card("width"),
        nvmlDeviceGetMaxPcieLinkGeneration=per_card("max_gen"),
        nvmlDeviceGetMaxPcieLinkWidth=per_card("max_width"),
        nvmlDeviceGetComputeRunningProcesses=per_card("procs"),
    )


def card(**overrides):
    base = {
        "name": "NVIDIA GeForce RTX 3060",
        "uuid": "GPU-aaaa",
        "serial": NVMLError("Not Supported"),
        "bus": "00000000:03:00.0",
        "total": 12 * GIB,
        "cc": (8, 6),
        "constraints": (100_000, 182_000),
        "default_mw": 170_000,
        "limit_mw": 115_000,
        "usage_mw": 98_500,
        "temp": 57,
        "fan": 62,
        "gen": 1,
        "width": 1,
        "max_gen": 4,
        "max_width": 16,
        "procs": [
            SimpleNamespace(pid=4242, usedGpuMemory=int(3.5 * GIB)),
            SimpleNamespace(pid=1, usedGpuMemory=None),
        ],
    }
    return {**base, **overrides}


def test_nvml_reads_link_power_and_vram_held_by_others():
    entries, reason = probe_nvidia(fake_pynvml([card(), card(bus="00000000:04:00.0", procs=[], gen=2)]))
    assert reason is None and len(entries) == 2
    first = entries[0]
    assert first["model"] == "NVIDIA GeForce RTX 3060" and first["vram_gib"] == 12.0
    assert first["bus_id"] == "0000:03:00.0"
    assert first["pcie"] == {"gen": 1, "width": 1, "max_gen": 4, "max_width": 16}
    assert (first["power_min_w"], first["power_max_w"], first["power_default_w"], first["power_limit_w"]) == (
        100,
        182,
        170,
        115,
    )
    assert first["vram_used_by_others_gib"] == 3.5  # a process that reports None counts as unknown, not 0
    assert first["labels"] == {"compute_capability": "8.6", "other_processes": "2"}
    assert "serial" not in first  # refused by the card: that field only
    assert entries[1]["vram_used_by_others_gib"] == 0 and entries[1]["pcie"]["gen"] == 2


def test_nvml_without_a_driver_says_why():
    entries, reason = probe_nvidia(fake_pynvml([], init_error=NVMLError("Driver Not Loaded")))
    assert entries == [] and "Driver Not Loaded" in reason


def test_bytes_names_from_old_nvml_are_decoded():
    entries, _ = probe_nvidia(fake_pynvml([card(name=b"NVIDIA CMP 170HX", bus=b"00000000:0a:00.0")]))
    assert entries[0]["model"] == "NVIDIA CMP 170HX" and entries[0]["bus_id"] == "0000:0a:00.0"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("00000000:03:00.0", "0000:03:00.0"), ("03:00.0", "0000:03:00.0"), ("0000:0A:00.0", "0000:0a:00.0")],
)
def test_bus_ids_are_normalised(raw, expected):
    assert normalise_bus_id(raw) == expected


def fake_amdsmi(raise_on_init: bool = False) -> SimpleNamespace:
    def init():
        if raise_on_init:
            raise RuntimeError("no amdgpu driver")

    return SimpleNamespace(
        amdsmi_init=init,
        amdsmi_shut_down=lambda: None,
        amdsmi_get_processor_handles=lambda: ["h0"],
        amdsmi_get_gpu_asic_info=lambda h: {
            "market_name": "Radeon RX 6800 XT",
            "target_graphics_version": "gfx1030",
        },
        amdsmi_get_gpu_device_bdf=lambda h: "0000:0b:00.0",
        amdsmi_get_gpu_device_uuid=lambda h: "amd-uuid-1",
        amdsmi_get_gpu_vram_info=lambda h: {"vram_size": 16384},
        amdsmi_get_gpu_vram_usage=lambda h: {"vram_total": 16384, "vram_used": 900},
        amdsmi_get_gpu_process_list=lambda h: [
            {"name": "teamredminer", "memory_usage": {"vram_mem": 2 * GIB}}
        ],
        amdsmi_get_power_cap_info=lambda h: {
            "power_cap": 150_000_000,
            "default_power_cap": 300_000_000,
            "min_power_cap": 0,
            "max_power_cap": 330_000_000,
        },
        amdsmi_get_power_info=lambda h: {"current_socket_power": 143},
        amdsmi_get_pcie_info=lambda h: {
            "pcie_static": {"max_pcie_width": 16, "max_pcie_speed": 16000},
            "pcie_metric": {"pcie_width": 1, "pcie_speed": 5000},
        },
        amdsmi_get_temp_metric=lambda h, kind, metric: 66,
    )


def test_amdsmi_reads_link_power_and_vram_held_by_others():
    entries, reason = probe_amd(fake_amdsmi(), run=lambda argv: "")
    assert reason is None
    gpu = entries[0]
    assert (gpu["model"], gpu["vram_gib"], gpu["bus_id"]) == ("Radeon RX 6800 XT", 16.0, "0000:0b:00.0")
    assert gpu["pcie"] == {"gen": 2, "width": 1, "max_gen": 4, "max_width": 16}  # 5000 MT/s is Gen2
    assert (gpu["power_limit_w"], gpu["power_default_w"], gpu["power_max_w"]) == (150, 300, 330)
    assert gpu["vram_used_by_others_gib"] == 2.0  # the miner's own accounting
    assert gpu["labels"]["gfx_target"] == "gfx1030" and gpu["temperature_c"] == 66


ROCM_SMI = {
    "card0": {
        "Card series": "Radeon RX 580 Series",
        "PCI Bus": "0000:03:00.0",
        "VRAM Total Memory (B)": str(8 * GIB),
        "VRAM Total Used Memory (B)": str(GIB),
        "Temperature (Sensor edge) (C)": "61.0",
        "Average Graphics Package Power (W)": "92.0",
    },
    "card1": {
        "Card Series": "Radeon RX 580 Series",
        "PCI Bus": "0000:04:00.0",
        "VRAM Total Memory (B)": "junk",
    },
    "system": {"Driver version": "6.2"},
}


def test_amdsmi_failing_falls_back_to_rocm_smi_json():
    out = "WARNING: something\n" + json.dumps(ROCM_SMI)
    entries, reason = probe_amd(fake_amdsmi(raise_on_init=True), run=lambda argv: out)
    assert reason is None and len(entries) == 2
    assert (entries[0]["model"], entries[0]["vram_gib"], entries[0]["vram_used_by_others_gib"]) == (
        "Radeon RX 580 Series",
        8.0,
        1.0,
    )
    assert entries[0]["temperature_c"] == 61 and entries[0]["power_draw_w"] == 92
    assert "vram_gib" not in entries[1]  # a value that does not parse costs that field only


def test_rocm_smi_missing_says_so():
    def missing(argv):
        raise FileNotFoundError(argv[0])

    assert probe_rocm_smi(missing) == ([], "rocm-smi is not on PATH")


def _no_rocm(argv):
    raise FileNotFoundError(argv[0])


HOST = HostInfo("rig-3060-01", "Intel Celeron G3930", 2, 7.7, 29.0)


def test_probe_machine_builds_one_rig(resolver):
    parsed = probe_machine(
        resolver, nvml=fake_pynvml([card()]), amdsmi=fake_amdsmi(True), run=_no_rocm, host=HOST
    )
    assert parsed.kind == "probe" and parsed.problems == []
    rig = parsed.fleet.rigs[0]
    assert (rig.name, rig.hostname, rig.cpu_cores, rig.ram_gib) == ("rig-3060-01", "rig-3060-01", 2, 7.7)
    gpu = rig.gpus[0]
    assert gpu.model == "geforce-rtx-3060-12gb" and gpu.pcie.width == 1 and gpu.vram_used_by_others_gib == 3.5
    assert gpu.labels["compute_capability"] == "8.6"


def test_probe_without_any_gpu_is_an_environment_problem(resolver):
    nvml = fake_pynvml([], init_error=NVMLError("NVML Shared Library Not Found"))
    with pytest.raises(EnvironmentProblem) as error:
        probe_machine(resolver, nvml=nvml, amdsmi=fake_amdsmi(True), run=_no_rocm, host=HOST)
    message = str(error.value)
    assert "no GPU found" in message and "NVML Shared Library Not Found" in message and "rocm-smi" in message
    assert error.value.exit_code == 5
