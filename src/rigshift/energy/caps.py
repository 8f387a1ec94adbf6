"""Power caps on a rig's GPUs: one seam, a driver per vendor, a fake and a dry run.

- `NvmlCapper`: NVIDIA through NVML (`nvmlDeviceSetPowerManagementLimit`, milliwatts; needs root
  or the driver's permission), clamped to `nvmlDeviceGetPowerManagementLimitConstraints`.
- `AmdSmiCapper`: AMD through the amdsmi Python library (`amdsmi_set_power_cap`, microwatts).
- `RocmSmiCapper`: AMD through the `rocm-smi --setpoweroverdrive` command, where amdsmi is absent.
- `FileCapper`: a fake NVML that keeps caps in a JSON file (tests, and `--caps fake:PATH` so a
  slow test can read what a real agent process applied).
- `DryRunCapper`: says what it would set and sets nothing (operators: `rigshift agent --dry-run`).

`CapApplier` asks the control plane for this rig's caps (GET /internal/energy/caps) and applies the
ones that changed. A cap of None means "leave the card alone" (mining or idle cards keep the
limit the operator or the mining OS set); a card the policy capped gets its default back when
it is released.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rigshift.client.http import ControlPlaneClient
from rigshift.errors import BackendError, EnvironmentProblem, InputError, Problem
from rigshift.ticker import Ticker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CapLimits:
    min_w: float
    max_w: float
    default_w: float


class PowerCapper(Protocol):
    def count(self) -> int: ...

    def limits(self, index: int) -> CapLimits: ...

    def current(self, index: int) -> float: ...

    def set_cap(self, index: int, watts: float) -> float:
        """Set the limit (clamped to the card's range); returns what was set."""
        ...


def clamp(watts: float, limits: CapLimits) -> float:
    return max(limits.min_w, min(limits.max_w, watts))


class NvmlCapper:
    def __init__(self, library: Any = None) -> None:
        if library is None:
            import pynvml

            library = pynvml
        nvml: Any = library
        self.nvml = nvml
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as error:
            raise EnvironmentProblem(f"NVML is not available (no NVIDIA driver?): {error}") from None

    def _handle(self, index: int) -> Any:
        return self.nvml.nvmlDeviceGetHandleByIndex(index)

    def count(self) -> int:
        return int(self.nvml.nvmlDeviceGetCount())

    def limits(self, index: int) -> CapLimits:
        handle = self._handle(index)
        low, high = self.nvml.nvmlDeviceGetPowerManagementLimitConstraints(handle)
        default = self.nvml.nvmlDeviceGetPowerManagementDefaultLimit(handle)
        return CapLimits(low / 1000, high / 1000, default / 1000)

    def current(self, index: int) -> float:
        return float(self.nvml.nvmlDeviceGetPowerManagementLimit(self._handle(index))) / 1000

    def set_cap(self, index: int, watts: float) -> float:
        target = clamp(watts, self.limits(index))
        try:
            self.nvml.nvmlDeviceSetPowerManagementLimit(self._handle(index), round(target * 1000))
        except self.nvml.NVMLError as error:
            if "permission" in str(error).lower():
                raise EnvironmentProblem(
                    f"GPU {index}: setting a power limit needs root (or `nvidia-smi -pm 1` and the driver's "
                    f"permission): {error}"
                ) from None
            raise BackendError(f"GPU {index}: NVML refused a {target:.0f} W limit: {error}") from None
        return target


class AmdSmiCapper:
    def __init__(self, library: Any = None) -> None:
        if library is None:
            try:
                import amdsmi
            except ImportError:
                raise EnvironmentProblem(
                    "the amdsmi Python library is not installed (ROCm ships it)"
                ) from None
            library = amdsmi
        self.smi: Any = library
        self.smi.amdsmi_init()
        self.handles = list(self.smi.amdsmi_get_processor_handles())

    def count(self) -> int:
        return len(self.handles)

    def limits(self, index: int) -> CapLimits:
        info = self.smi.amdsmi_get_power_cap_info(self.handles[index])
        return CapLimits(
            info["min_power_cap"] / 1e6, info["max_power_cap"] / 1e6, info["default_power_cap"] / 1e6
        )

    def current(self, index: int) -> float:
        return float(self.smi.amdsmi_get_power_cap_info(self.handles[index])["power_cap"]) / 1e6

    def set_cap(self, index: int, watts: float) -> float:
        target = clamp(watts, self.limits(index))
        try:
            self.smi.amdsmi_set_power_cap(self.handles[index], 0, round(target * 1e6))
        except Exception as error:  # amdsmi raises its own AmdSmiLibraryException
            raise BackendError(f"GPU {index}: amdsmi refused a {target:.0f} W cap: {error}") from None
        return target


Runner = Callable[[Sequence[str]], str]


def _run(argv: Sequence[str]) -> str:
    try:
        return subprocess.run(list(argv), check=True, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise BackendError(f"{' '.join(argv)}: {error}") from None


class RocmSmiCapper:
    """`rocm-smi` as a command: where the amdsmi library is missing (older ROCm)."""

    def __init__(self, runner: Runner | None = None) -> None:
        if runner is None and shutil.which("rocm-smi") is None:
            raise EnvironmentProblem("rocm-smi is not on PATH")
        self.run = runner or _run
        self._info = json.loads(self.run(["rocm-smi", "--showmaxpower", "--showpower", "--json"]) or "{}")

    def _card(self, index: int) -> dict[str, Any]:
        card = self._info.get(f"card{index}")
        if card is None:
            raise InputError(Problem(f"no GPU {index} in rocm-smi's list", field="index"))
        return dict(card)

    def count(self) -> int:
        return sum(1 for k in self._info if k.startswith("card"))

    def limits(self, index: int) -> CapLimits:
        card = self._card(index)
        high = float(next(v for k, v in card.items() if "Max Graphics Package Power" in k))
        return CapLimits(high * 0.3, high, high)  # rocm-smi does not report a minimum: 30% is safe

    def current(self, index: int) -> float:
        card = self._card(index)
        return float(next(v for k, v in card.items() if "Max Graphics Package Power" in k))

    def set_cap(self, index: int, watts: float) -> float:
        target = clamp(watts, self.limits(index))
        self.run(["rocm-smi", "-d", str(index), "--setpoweroverdrive", f"{target:.0f}", "--autorespond", "y"])
        return target


class FileCapper:
    """A fake NVML: caps kept in a JSON file {"gpus": [{"default_w", "min_w", "max_w", "cap_w"}]}."""

    def __init__(self, path: Path, gpus: int = 0, default_w: float = 170.0) -> None:
        self.path = path
        self._lock = threading.Lock()
        if not path.exists():
            cards = [
                {"default_w": default_w, "min_w": default_w * 0.3, "max_w": default_w, "cap_w": default_w}
            ]
            path.write_text(json.dumps({"gpus": cards * gpus, "log": []}))

    def _read(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.path.read_text())
        return data

    def count(self) -> int:
        return len(self._read()["gpus"])

    def limits(self, index: int) -> CapLimits:
        card = self._read()["gpus"][index]
        return CapLimits(card["min_w"], card["max_w"], card["default_w"])

    def current(self, index: int) -> float:
        return float(self._read()["gpus"][index]["cap_w"])

    def set_cap(self, index: int, watts: float) -> float:
        with self._lock:
            data = self._read()
            card = data["gpus"][index]
            target = clamp(watts, CapLimits(card["min_w"], card["max_w"], card["default_w"]))
            card["cap_w"] = target
            data.setdefault("log", []).append({"index": index, "cap_w": target})
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(self.path)
        return target


class DryRunCapper:
    """Reads through to the real driver, never writes: prints what it would set."""

    def __init__(self, inner: PowerCapper, say: Callable[[str], None] = print) -> None:
        self.inner = inner
        self.say = say
        self.would: dict[int, float] = {}

    def count(self) -> int:
        return self.inner.count()

    def limits(self, index: int) -> CapLimits:
        return self.inner.limits(index)

    def current(self, index: int) -> float:
        return self.would.get(index, self.inner.current(index))

    def set_cap(self, index: int, watts: float) -> float:
        target = clamp(watts, self.limits(index))
        self.would[index] = target
        self.say(
            f"dry run: GPU {index} power limit {self.inner.current(index):.0f} W -> {target:.0f} W (not applied)"
        )
        return target


CAPPERS = ("auto", "nvml", "amdsmi", "rocm-smi", "none")


def capper_for(choice: str, brand: str | None = None) -> PowerCapper | None:
    """`--caps`: auto (the rig's GPU brand), nvml, amdsmi, rocm-smi, fake:PATH, or none."""
    if choice == "none":
        return None
    if choice.startswith("fake:"):
        return FileCapper(Path(choice[5:]))
    if choice == "auto":
        choice = "amdsmi" if brand == "amd" else "nvml"
        if choice == "amdsmi":
            try:
                return AmdSmiCapper()
            except EnvironmentProblem:
                return RocmSmiCapper()
    if choice == "nvml":
        return NvmlCapper()
    if choice == "amdsmi":
        return AmdSmiCapper()
    if choice == "rocm-smi":
        return RocmSmiCapper()
    from rigshift.suggest import did_you_mean

    raise InputError(
        Problem(f"unknown --caps {choice!r}", field="--caps", suggestions=did_you_mean(choice, CAPPERS))
    )


CapsSource = Callable[[], list[dict[str, Any]]]


def caps_from_server(control_plane: ControlPlaneClient, rig: str) -> CapsSource:
    """This rig's caps as the control plane's energy loop last decided them."""

    def fetch() -> list[dict[str, Any]]:
        answer = control_plane.call("GET", "/internal/energy/caps", params={"rig": rig})
        gpus: list[dict[str, Any]] = answer.get("gpus", []) if isinstance(answer, dict) else []
        return gpus

    return fetch


class CapApplier:
    """Poll the control plane for this rig's caps and apply the ones that changed."""

    def __init__(self, capper: PowerCapper, source: CapsSource, interval_s: float = 5.0) -> None:
        self.capper = capper
        self.source = source
        self.interval_s = interval_s
        self.applied: dict[int, float] = {}  # what we set; cards not here are the operator's
        self._loop = Ticker("power-caps", self.step, lambda error: log.warning("power caps: %s", error))

    def step(self) -> dict[int, float]:
        """One poll: returns the caps set in this step."""
        changed: dict[int, float] = {}
        count = self.capper.count()
        for entry in self.source():
            index = int(entry["index"])
            if not 0 <= index < count:
                continue
            cap = entry.get("power_cap_w")
            if cap is None:
                if index in self.applied:  # released by the policy: back to the card's default
                    default = self.capper.limits(index).default_w
                    changed[index] = self.capper.set_cap(index, default)
                    del self.applied[index]
                continue
            if abs(self.applied.get(index, -1.0) - float(cap)) > 0.5:
                self.applied[index] = float(cap)
                changed[index] = self.capper.set_cap(index, float(cap))
        if changed:
            log.info("power caps set: %s", {i: round(w) for i, w in changed.items()})
        return changed

    def start(self) -> None:
        """Poll every `interval_s`; a control-plane hiccup is logged, never stops the agent."""
        self._loop.start(self.interval_s)

    def stop(self) -> None:
        self._loop.stop(join_s=10)
