"""Small fleets built straight from `rigshift.fleet.model`, and a catalog of a few real cards.

GPU figures are the published ones (TechPowerUp); they are fixtures, not a second GPU catalog.
"""

from __future__ import annotations

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.models import load_model
from rigshift.errors import Problem, UnknownNameError
from rigshift.estimate import Estimate, Hardware, MemoryEstimate, Workload, estimate
from rigshift.estimate.power import speed_factor_at_power_limit
from rigshift.estimate.runtimes import runtimes_for
from rigshift.fleet.model import Fleet, Gpu, PcieState, PowerLimits, Rig, Site
from rigshift.toolkit import Toolkit

SPECS = {
    "geforce-rtx-3060-12gb": GpuSpec(
        key="geforce-rtx-3060-12gb",
        name="NVIDIA GeForce RTX 3060 12 GB",
        vendor="nvidia",
        architecture="Ampere",
        vram_gib=12,
        mem_bandwidth_gbs=360,
        fp32_tflops=12.7,
        fp16_tflops=12.7,
        tdp_w=170,
        pcie_gen=4,
        pcie_lanes=16,
        launch_year=2021,
        fp16_matrix_tflops=51,
        int8_tops=102,
        compute_capability="8.6",
    ),
    "geforce-rtx-3090": GpuSpec(
        key="geforce-rtx-3090",
        name="NVIDIA GeForce RTX 3090",
        vendor="nvidia",
        architecture="Ampere",
        vram_gib=24,
        mem_bandwidth_gbs=936,
        fp32_tflops=35.6,
        fp16_tflops=35.6,
        tdp_w=350,
        pcie_gen=4,
        pcie_lanes=16,
        launch_year=2020,
        fp16_matrix_tflops=71,
        int8_tops=284,
        compute_capability="8.6",
    ),
    "p104-100": GpuSpec(
        key="p104-100",
        name="NVIDIA P104-100",
        vendor="nvidia",
        architecture="Pascal",
        vram_gib=8,
        mem_bandwidth_gbs=320,
        fp32_tflops=6.7,
        fp16_tflops=0.1,
        tdp_w=180,
        pcie_gen=1,
        pcie_lanes=4,
        launch_year=2017,
        int8_tops=26.8,
        compute_capability="6.1",
        mining_only=True,
    ),
    "radeon-rx-580-8gb": GpuSpec(
        key="radeon-rx-580-8gb",
        name="AMD Radeon RX 580 8 GB",
        vendor="amd",
        architecture="GCN 4.0",
        vram_gib=8,
        mem_bandwidth_gbs=256,
        fp32_tflops=6.2,
        fp16_tflops=6.2,
        tdp_w=185,
        pcie_gen=3,
        pcie_lanes=16,
        launch_year=2017,
        gfx_target="gfx803",
    ),
}


_BITS = {"Q4_K_M": 4.85, "Q8_0": 8.5, "F16": 16.0}
GIB = 1024**3


def fake_estimate(workload: Workload, hardware: Hardware) -> Estimate:
    """A small stand-in for the estimator: weights by bits per weight, an f16 KV cache, an even
    split, decode bound by memory bandwidth, a power cap costing a little decode speed."""
    if workload.quant not in _BITS:
        raise UnknownNameError(Problem(f"unknown quantization {workload.quant!r}", field="quant"))
    m = workload.model
    spec = hardware.gpus[0].spec
    runtime = workload.runtime or ("llama.cpp-cuda" if spec.vendor == "nvidia" else "llama.cpp-vulkan")
    weights = m.params_b * 1e9 * _BITS[workload.quant] / 8 / GIB
    kv = 2 * m.n_layers * m.n_kv_heads * m.head_dim * workload.context * workload.parallel * 2 / GIB
    total = weights + kv + 0.5
    k = len(hardware.gpus)
    per_gpu = tuple(round(total / k, 3) for _ in hardware.gpus)
    capacity = tuple(round(g.spec.vram_gib - g.used_by_others_gib, 3) for g in hardware.gpus)
    fits = all(p <= c for p, c in zip(per_gpu, capacity, strict=True))
    reason = "fits" if fits else f"needs {per_gpu[0]:.2f} GiB per GPU, has {capacity[0]:.2f} GiB"
    if runtime == "vllm" and spec.vendor != "nvidia":
        fits, reason = False, "vllm needs an NVIDIA GPU"
    cap = hardware.gpus[0].power_limit_w
    power = 1.0 if cap is None else 1 / (0.85 + 0.15 / max(0.05, cap / spec.tdp_w) ** (1 / 3))
    decode = power * spec.mem_bandwidth_gbs * 1e9 * 0.7 / (weights * GIB) / (1 + 0.1 * (k - 1))
    memory = MemoryEstimate(weights, kv, 0.3, 0.2, total, per_gpu, capacity, 0.2)
    return Estimate(
        fits=fits,
        reason=reason,
        runtime=runtime,
        memory=memory,
        decode_tokens_per_s=decode,
        decode_tokens_per_s_total=decode * workload.parallel * 0.9,
        prefill_tokens_per_s=decode * 20,
        ttft_s=1.0,
        max_context=workload.context,
        max_parallel=workload.parallel,
        load_seconds=1.0,
        load_seconds_link=1.0,
        load_seconds_disk=1.0,
        split_ms_per_token=0.0,
        bottleneck="memory bandwidth",
    )


def fixture_gpu(key: str) -> GpuSpec:
    if key not in SPECS:
        raise UnknownNameError(Problem(f"unknown GPU {key!r}"))
    return SPECS[key]


def fixture_tools(real: bool = False) -> Toolkit:
    """Unit tests: the fake estimator (fast, stable); integration: the real one."""
    return Toolkit(
        gpu_spec=fixture_gpu,
        model=load_model,
        estimator=estimate if real else fake_estimate,
        runtimes_for=runtimes_for,
        speed_factor=speed_factor_at_power_limit,  # type: ignore[arg-type]
    )


SEAMS = fixture_tools()
REAL_SEAMS = fixture_tools(real=True)


def rig(
    name: str,
    site: str,
    model: str,
    count: int,
    *,
    cores: int = 8,
    ram: float = 16.0,
    link: tuple[int, int] = (1, 1),
    used: float = 0.0,
    labels: dict[str, str] | None = None,
    **gpu_fields: object,
) -> Rig:
    spec = SPECS[model]
    gpus = [
        Gpu(
            model=model,
            vram_gib=spec.vram_gib,
            index=i,
            bus_id=f"0000:{i + 1:02x}:00.0",
            pcie=PcieState(gen=link[0], width=link[1]),
            vram_used_by_others_gib=used,
            power=PowerLimits(min=spec.tdp_w * 0.4, default=spec.tdp_w, max=spec.tdp_w * 1.1),
            **gpu_fields,
        )  # type: ignore[arg-type]
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
