"""A measurement: one llama-bench result, attributed to a card, a driver, a runtime build."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rigshift.estimate.calibration import HOST_CARD_KEY

__all__ = ["HOST_CARD_KEY", "IMPORT_IDENTITY", "Measurement", "llama_bench_test"]

# What makes two imported rows the same result (measured_at is the import's time, not the run's):
# a file imported twice, or into both the database and a fleet file, counts once.
IMPORT_IDENTITY = ("source", "card_key", "runtime", "model_key", "quant", "n_prompt", "n_gen", "tokens_per_s")


@dataclass(frozen=True)
class Measurement:
    card_key: str  # GPU catalog key, or HOST_CARD_KEY for llama.cpp-cpu
    card_name: str  # as the runtime reported it ("AMD Radeon RX 570 Series", a CPU model)
    runtime: str  # a rigshift runtime: llama.cpp-cuda | -vulkan | -rocm | -cpu
    model_key: str  # model catalog key
    quant: str  # Q4_0, Q4_K_M, ...
    n_prompt: int  # llama-bench's test: pp512 = (512, 0), tg128 = (0, 128)
    n_gen: int
    tokens_per_s: float  # llama-bench's avg_ts: the mean of the repetitions
    stddev_tokens_per_s: float = 0.0
    n_depth: int = 0
    vram_gib: float | None = None
    card_uuid: str | None = None  # NVML UUID / serial where known
    driver: str | None = None
    runtime_build: str | None = None  # llama.cpp "commit (number)"
    power_limit_w: float | None = None
    pcie_link: str | None = None  # "Gen3 x16"
    gpu_memory_used_gib: float | None = None
    n_gpu_layers: int | None = None
    n_threads: int | None = None  # CPU threads llama-bench used
    source: str = "bench"  # "bench", "import FILE:LINE", "agent RIG"
    rig: str | None = None
    measured_at: float = 0.0  # unix seconds
    id: int | None = None  # set by the store
    # Each repetition's rate (llama-bench's samples_ts), where the run gave them: a stalled
    # repetition on a shared host shows here, where the mean only drops.
    samples_tokens_per_s: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        # JSON, YAML and pydantic hand lists; identity() needs something hashable.
        object.__setattr__(self, "samples_tokens_per_s", tuple(float(v) for v in self.samples_tokens_per_s))

    @property
    def test(self) -> str:
        return llama_bench_test(self.n_prompt, self.n_gen, self.n_depth)

    @property
    def kind(self) -> str:
        """'decode' (tgN), 'prefill' (ppN) or 'mixed' (ppN+tgM: not used for calibration)."""
        if self.n_gen and not self.n_prompt:
            return "decode"
        if self.n_prompt and not self.n_gen:
            return "prefill"
        return "mixed"

    def identity(self) -> tuple[Any, ...]:
        """Equal for the same measurement wherever it is stored (database, fleet file): an
        imported row by IMPORT_IDENTITY, a benched one by everything but the database's id."""
        if self.source.startswith("import"):
            return ("import", *(getattr(self, name) for name in IMPORT_IDENTITY))
        return ("run", *(v for k, v in asdict(self).items() if k != "id"))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["test"] = self.test
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measurement:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**fields)


def llama_bench_test(n_prompt: int, n_gen: int, n_depth: int = 0) -> str:
    """llama-bench's own name for a test: pp512, tg128, pp512+tg128, with " @ d4096"."""
    if n_prompt and not n_gen:
        name = f"pp{n_prompt}"
    elif n_gen and not n_prompt:
        name = f"tg{n_gen}"
    else:
        name = f"pp{n_prompt}+tg{n_gen}"
    return name + (f" @ d{n_depth}" if n_depth else "")
