"""Inputs and outputs of the estimator: plain frozen dataclasses that serialise to JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.model_spec import ModelSpec
from rigshift.estimate.provenance import Provenance

# A weak mining host (2-core Celeron/Core i3 class, 4-8 GB RAM, as in the published mining rig of
# github.com/AlexGL402/AI6-P104-Homelab; docs/estimator.md): dual-channel DDR4 at ~20 GB/s
# usable, 2 threads for llama.cpp. Assumptions, printed as such; pass the rig's own figures.
DEFAULT_HOST_BANDWIDTH_GBS = 20.0
DEFAULT_HOST_THREADS = 2
DEFAULT_HOST_RAM_GIB = 8.0

# For estimates built outside the estimator (test fakes): says it knows nothing.
UNKNOWN_PROVENANCE = Provenance("prior", "prior", "prior", 0, (0.0, 0.0), "unknown", 100.0, True)

# Usable bandwidth per lane and direction after line encoding (8b/10b for Gen1/2, 128b/130b
# from Gen3): PCI-SIG base specifications, as tabulated in e.g. Wikipedia's "PCI Express".
PCIE_GBS_PER_LANE = {1: 0.25, 2: 0.5, 3: 0.985, 4: 1.969, 5: 3.938}

SplitMode = Literal["layer", "tensor"]


@dataclass(frozen=True)
class PcieLink:
    """A PCIe link as trained: a Gen1 x1 riser or a Gen3 x16 slot."""

    gen: int
    lanes: int

    @property
    def gbs(self) -> float:
        """Bytes per second one way, in GB/s (10^9)."""
        return PCIE_GBS_PER_LANE.get(self.gen, PCIE_GBS_PER_LANE[5]) * self.lanes

    def __str__(self) -> str:
        return f"Gen{self.gen} x{self.lanes}"


@dataclass(frozen=True)
class GpuSlot:
    """One physical GPU as it sits in a rig: its model, its real link, what others hold of it."""

    spec: GpuSpec
    link: PcieLink | None = None  # None: the card's own maximum link (a proper x16 slot)
    used_by_others_gib: float = 0.0  # VRAM held by other processes (a miner still running)
    power_limit_w: float | None = None  # None: the card's default (TDP)

    @property
    def effective_link(self) -> PcieLink:
        own = PcieLink(self.spec.pcie_gen, self.spec.pcie_lanes)
        if self.link is None:
            return own
        # A link never trains faster than the card itself allows (CMP 170HX: Gen1 x4 in any slot).
        return PcieLink(min(self.link.gen, own.gen), min(self.link.lanes, own.lanes))


@dataclass(frozen=True)
class Hardware:
    """The GPUs one replica runs on, and the host paths that feed them."""

    gpus: tuple[GpuSlot, ...]
    tensor_split: tuple[float, ...] | None = None  # llama.cpp --tensor-split; None: by free VRAM
    split_mode: SplitMode = "layer"
    disk_read_gbs: float = 0.5  # a SATA SSD; a USB stick is ~0.03-0.1
    network_gbs: float | None = None  # set when the GPUs span hosts (llama.cpp RPC); 1 GbE = 0.125
    host_ram_gib: float | None = None  # None: not checked (the CPU runtime assumes DEFAULT_HOST_RAM_GIB)
    host_bandwidth_gbs: float = DEFAULT_HOST_BANDWIDTH_GBS  # host DRAM, for layers left on the CPU
    host_threads: int = DEFAULT_HOST_THREADS  # CPU threads llama.cpp uses

    @classmethod
    def of(cls, spec: GpuSpec, count: int = 1, link: PcieLink | None = None, **kwargs: Any) -> Hardware:
        return cls(gpus=tuple(GpuSlot(spec, link) for _ in range(count)), **kwargs)


@dataclass(frozen=True)
class Workload:
    """What is to be served: a model, its quantization, context and concurrency, the runtime."""

    model: ModelSpec
    quant: str = "Q4_K_M"
    context: int = 8192  # tokens per sequence
    parallel: int = 1  # sequences decoded together (llama-server slots, vLLM batch)
    kv_type: str = "f16"
    runtime: str | None = None  # None: the best runtime for the GPU's vendor
    prompt_tokens: int = 512  # prompt length for time-to-first-token
    weights_bytes: int | None = None  # exact tensor bytes when known (a GGUF file's header)
    flash_attention: bool | None = None  # None: the runtime's default (llama.cpp: on where supported)
    # llama.cpp --gpu-layers: repeating layers offloaded to the GPUs (the rest run on the host CPU).
    # None: all of them; "auto": all that fit (llama.cpp's --fit / Ollama's behaviour).
    gpu_layers: int | Literal["auto"] | None = None


@dataclass(frozen=True)
class MemoryEstimate:
    """GiB. `per_gpu` is what each GPU must hold; `capacity` what each GPU can give."""

    weights: float
    kv_cache: float
    compute: float
    overhead: float
    total: float
    per_gpu: tuple[float, ...]
    capacity: tuple[float, ...]
    host_ram: float  # host memory the runtime needs besides the GPUs (tensors kept on the CPU)


@dataclass(frozen=True)
class Estimate:
    fits: bool
    reason: str
    runtime: str
    memory: MemoryEstimate
    decode_tokens_per_s: float  # one stream, at half the context filled
    decode_tokens_per_s_total: float  # all `parallel` streams together
    prefill_tokens_per_s: float
    ttft_s: float  # time to first token for `prompt_tokens`
    max_context: int  # largest per-sequence context that fits at `parallel`
    max_parallel: int  # most sequences that fit at `context`
    load_seconds: float  # model file to GPUs: the slower of disk and PCIe link
    load_seconds_link: float
    load_seconds_disk: float
    split_ms_per_token: float  # activation transfer between GPUs/hosts per decoded token
    bottleneck: str  # what bounds decode: "memory bandwidth", "PCIe link", "network", ...
    notes: tuple[str, ...] = field(default=())
    provenance: Provenance = UNKNOWN_PROVENANCE
    gpu_layers: int | None = None  # repeating layers on the GPUs; None: all (no CPU offload)
    cpu_layers: int = 0  # repeating layers left on the host CPU

    @property
    def safe_share(self) -> float:
        """The interval's low end as a share of the central decode figure: what a decision that
        moves money may count on (1.0 for a measured figure with no spread)."""
        low, high = self.provenance.interval
        if high > 0 and self.decode_tokens_per_s > 0:
            return min(1.0, low / self.decode_tokens_per_s)
        return 1 / (1 + self.provenance.spread_pct / 100)  # no interval (a fake): its stated spread

    @property
    def decode_tps_low(self) -> float:
        """One stream's decode rate at the low end of the interval: the figure verdicts read."""
        return self.decode_tokens_per_s * self.safe_share

    @property
    def decode_tps_total_low(self) -> float:
        """All streams together, at the interval's low end."""
        return self.decode_tokens_per_s_total * self.safe_share

    @property
    def prefill_tps_low(self) -> float:
        """Prompt processing at the same relative low end (the class's rows slow both alike)."""
        return self.prefill_tokens_per_s * self.safe_share

    @property
    def ttft_s_high(self) -> float:
        """Time to first token at the low end of both rates."""
        share = self.safe_share
        return self.ttft_s / share if share > 0 else self.ttft_s

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["memory_gib"] = data.pop("memory")
        data["provenance"] = self.provenance.to_json()
        data["decode_tps_low"] = self.decode_tps_low
        data["decode_tps_total_low"] = self.decode_tps_total_low
        data["prefill_tps_low"] = self.prefill_tps_low
        data["ttft_s_high"] = self.ttft_s_high
        return data


def safe_rate(estimate: Estimate, central: float, low: float) -> float:
    """The figure a decision that moves money counts on: where every figure of `estimate` is a prior
    (nothing measured on the card), the low end of the prior's interval, which covers the spread
    of published measurements for the class; a measured or calibrated figure stands as it is."""
    return low if estimate.provenance.uncalibrated else central
