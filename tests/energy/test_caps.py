"""Power caps: NVML against a fake library, amdsmi, rocm-smi, the file fake, dry run, the applier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rigshift.energy.caps import (
    AmdSmiCapper,
    CapApplier,
    DryRunCapper,
    FileCapper,
    NvmlCapper,
    RocmSmiCapper,
    capper_for,
)
from rigshift.errors import EnvironmentProblem, InputError


class FakeNvml:
    """The pynvml calls NvmlCapper makes, with NVML's units (milliwatts)."""

    class NVMLError(Exception):
        pass

    def __init__(self, permitted: bool = True) -> None:
        self.limits = {0: 170_000, 1: 170_000}
        self.permitted = permitted

    def nvmlInit(self) -> None: ...

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetPowerManagementLimitConstraints(self, h: int) -> tuple[int, int]:
        return 100_000, 170_000

    def nvmlDeviceGetPowerManagementDefaultLimit(self, h: int) -> int:
        return 170_000

    def nvmlDeviceGetPowerManagementLimit(self, h: int) -> int:
        return self.limits[h]

    def nvmlDeviceSetPowerManagementLimit(self, h: int, mw: int) -> None:
        if not self.permitted:
            raise self.NVMLError("Insufficient Permissions")
        self.limits[h] = mw


def test_nvml_sets_milliwatts_clamped_to_the_cards_range() -> None:
    nvml = FakeNvml()
    capper = NvmlCapper(nvml)
    assert capper.set_cap(0, 119.0) == 119.0 and nvml.limits[0] == 119_000
    assert capper.set_cap(1, 50.0) == 100.0  # below the card's minimum: its minimum
    assert capper.current(1) == 100.0 and capper.limits(0).default_w == 170.0
    with pytest.raises(EnvironmentProblem, match="root"):
        NvmlCapper(FakeNvml(permitted=False)).set_cap(0, 120)


def test_amdsmi_and_rocm_smi() -> None:
    class FakeAmd:
        def __init__(self) -> None:
            self.cap = 200_000_000

        def amdsmi_init(self) -> None: ...

        def amdsmi_get_processor_handles(self) -> list[str]:
            return ["gpu0"]

        def amdsmi_get_power_cap_info(self, h: str) -> dict[str, int]:
            return {
                "power_cap": self.cap,
                "default_power_cap": 230_000_000,
                "min_power_cap": 100_000_000,
                "max_power_cap": 230_000_000,
            }

        def amdsmi_set_power_cap(self, h: str, sensor: int, cap: int) -> None:
            self.cap = cap

    amd = FakeAmd()
    assert AmdSmiCapper(amd).set_cap(0, 150) == 150 and amd.cap == 150_000_000
    calls: list[list[str]] = []

    def runner(argv: Any) -> str:
        calls.append(list(argv))
        return json.dumps({"card0": {"Max Graphics Package Power (W)": "230.0"}})

    rocm = RocmSmiCapper(runner)
    assert rocm.set_cap(0, 120) == 120
    assert calls[-1][:5] == ["rocm-smi", "-d", "0", "--setpoweroverdrive", "120"]
    with pytest.raises(InputError):
        rocm.limits(3)


def test_file_fake_dry_run_and_applier(tmp_path: Path) -> None:
    fake = FileCapper(tmp_path / "nvml.json", gpus=3, default_w=170)
    said: list[str] = []
    dry = DryRunCapper(fake, say=said.append)
    assert dry.set_cap(0, 100) == 100 and fake.current(0) == 170 and "not applied" in said[0]
    caps = [
        {"index": 0, "power_cap_w": 119.0},
        {"index": 1, "power_cap_w": None},
        {"index": 7, "power_cap_w": 90},
    ]
    applier = CapApplier(fake, lambda: caps)
    assert applier.step() == {0: 119.0}
    assert applier.step() == {}  # unchanged: nothing written again
    caps[0]["power_cap_w"] = None  # released by the policy: back to the default
    assert applier.step() == {0: 170.0}
    assert json.loads((tmp_path / "nvml.json").read_text())["log"] == [
        {"index": 0, "cap_w": 119.0},
        {"index": 0, "cap_w": 170.0},
    ]


def test_capper_choice() -> None:
    assert capper_for("none") is None
    with pytest.raises(InputError, match="nvml"):
        capper_for("nvlm")
