"""Small fleets built straight from `rigshift.fleet.model`, and a catalog of a few real cards.

GPU figures are the published ones (TechPowerUp); they are fixtures, not a second GPU catalog.
"""

from __future__ import annotations

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.model_spec import ModelSpec
from rigshift.catalog.models import load_model
from rigshift.estimate import estimate
from rigshift.fleet.model import Fleet, Gpu, PcieState, PowerLimits, Rig, Site
from rigshift.plan.seams import Seams

SPECS = {
    "geforce-rtx-3060-12gb": GpuSpec(
        key="geforce-rtx-3060-12gb", name="NVIDIA GeForce RTX 3060 12 GB", vendor="nvidia",
        architecture="Ampere", vram_gib=12, mem_bandwidth_gbs=360, fp32_tflops=12.7, fp16_tflops=12.7,
        tdp_w=170, pcie_gen=4, pcie_lanes=16, launch_year=2021, fp16_matrix_tflops=51, int8_tops=102,
        compute_capability="8.6",
    ),
    "geforce-rtx-3090": GpuSpec(
        key="geforce-rtx-3090", name="NVIDIA GeForce RTX 3090", vendor="nvidia", architecture="Ampere",
        vram_gib=24, mem_bandwidth_gbs=936, fp32_tflops=35.6, fp16_tflops=35.6, tdp_w=350, pcie_gen=4,
        pcie_lanes=16, launch_year=2020, fp16_matrix_tflops=71, int8_tops=284, compute_capability="8.6",
    ),
    "p104-100": GpuSpec(
        key="p104-100", name="NVIDIA P104-100", vendor="nvidia", architecture="Pascal", vram_gib=8,
        mem_bandwidth_gbs=320, fp32_tflops=6.7, fp16_tflops=0.1, tdp_w=180, pcie_gen=1, pcie_lanes=4,
        launch_year=2017, int8_tops=26.8, compute_capability="6.1", mining_only=True,
    ),
    "radeon-rx-580-8gb": GpuSpec(
        key="radeon-rx-580-8gb", name="AMD Radeon RX 580 8 GB", vendor="amd", architecture="GCN 4.0",
        vram_gib=8, mem_bandwidth_gbs=256, fp32_tflops=6.2, fp16_tflops=6.2, tdp_w=185, pcie_gen=3,
        pcie_lanes=16, launch_year=2017, gfx_target="gfx803",
    ),
}


class FixtureCatalog:
    def gpu(self, key: str) -> GpuSpec | None:
        return SPECS.get(key)

    def model(self, name_or_path: str) -> ModelSpec:
        return load_model(name_or_path)


SEAMS = Seams(catalog=FixtureCatalog(), estimate=estimate)


def rig(name: str, site: str, model: str, count: int, *, cores: int = 8, ram: float = 16.0,
        link: tuple[int, int] = (1, 1), used: float = 0.0, labels: dict[str, str] | None = None,
        **gpu_fields: object) -> Rig:
    spec = SPECS[model]
    gpus = [
        Gpu(model=model, vram_gib=spec.vram_gib, index=i, bus_id=f"0000:{i + 1:02x}:00.0",
            pcie=PcieState(gen=link[0], width=link[1]), vram_used_by_others_gib=used,
            power=PowerLimits(min=spec.tdp_w * 0.4, default=spec.tdp_w, max=spec.tdp_w * 1.1),
            **gpu_fields)  # type: ignore[arg-type]
        for i in range(count)
    ]
    return Rig(name=name, site=site, cpu_cores=cores, ram_gib=ram, labels=labels or {}, gpus=gpus)


def fleet(*rigs: Rig, budgets_kw: dict[str, float] | None = None, price: float = 0.05) -> Fleet:
    sites = sorted({r.site for r in rigs})
    budgets = budgets_kw or {}
    return Fleet(
        name="test",
        sites=[Site(name=s, power_budget_kw=budgets.get(s), power_price_usd_kwh=price) for s in sites],
        rigs=list(rigs),
    )
