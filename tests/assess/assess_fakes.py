"""A small fake of the assessment's seam: four GPU specs, a handful of models, a simple estimator.

The fake estimator follows the same physics as the real one in outline (weights + KV cache must fit
the free VRAM of the GPUs; decode reads every weight once per token; load time is the slower of
link and disk), so the assessment's logic can be tested without depending on the real estimator's
calibration. Figures are round numbers chosen to make verdicts easy to reason about.
"""

from __future__ import annotations

from rigshift.assess.tools import AssessTools
from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.model_spec import ModelSpec
from rigshift.errors import Problem, UnknownNameError
from rigshift.estimate.types import Estimate, Hardware, MemoryEstimate, Workload
from rigshift.fleet.model import Fleet, Gpu, PcieState, Rig, Site
from rigshift.suggest import did_you_mean

GIB = 1024**3


def _spec(key: str, vendor: str, vram: float, bw: float, fp32: float, fp16: float, **kw: object) -> GpuSpec:
    return GpuSpec(
        key=key,
        name=key.upper(),
        vendor=vendor,
        architecture=str(kw.pop("arch", "Ampere")),
        vram_gib=vram,  # type: ignore[arg-type]
        mem_bandwidth_gbs=bw,
        fp32_tflops=fp32,
        fp16_tflops=fp16,
        tdp_w=170,
        pcie_gen=4,
        pcie_lanes=16,
        launch_year=2021,
        **kw,  # type: ignore[arg-type]
    )


SPECS = {
    s.key: s
    for s in (
        _spec("rtx-3060-12g", "nvidia", 12, 360, 12.7, 12.7, compute_capability="8.6"),
        _spec("rtx-3090", "nvidia", 24, 936, 35.6, 35.6, compute_capability="8.6"),
        _spec("gtx-1070", "nvidia", 8, 256, 6.5, 0.1, arch="Pascal", compute_capability="6.1"),
        _spec("rx-580-8g", "amd", 8, 256, 6.2, 6.2, arch="GCN 4.0", gfx_target="gfx803"),
        _spec("gtx-1050-2g", "nvidia", 2, 112, 1.8, 0.03, arch="Pascal", compute_capability="6.1"),
    )
}


def _model(key: str, params_b: float, layers: int, hidden: int, kind: str = "chat") -> ModelSpec:
    return ModelSpec(
        key=key,
        name=key,
        architecture="llama",
        kind=kind,
        params_b=params_b,
        n_layers=layers,  # type: ignore[arg-type]
        hidden_size=hidden,
        n_heads=hidden // 128,
        n_kv_heads=8,
        head_dim=128,
        ffn_size=hidden * 3,
        vocab_size=128_000,
        context_length=131_072,
    )


MODELS = {
    m.key: m
    for m in (
        _model("llama-3.2-3b", 3.2, 28, 3072),
        _model("llama-3.1-8b", 8.0, 32, 4096),
        _model("qwen2.5-14b", 14.7, 48, 5120),
        _model("qwen2.5-32b", 32.5, 64, 5120),
        _model("llama-3.1-70b", 70.6, 80, 8192),
        _model("nomic-embed-text-v1.5", 0.137, 12, 768, kind="embedding"),
    )
}

BITS = {
    "F16": 16.0,
    "Q8_0": 8.5,
    "Q6_K": 6.56,
    "Q5_K_M": 5.69,
    "Q4_K_M": 4.85,
    "Q4_0": 4.5,
    "Q3_K_M": 3.9,
    "Q2_K": 3.0,
}


def fake_estimate(workload: Workload, hardware: Hardware) -> Estimate:
    m = workload.model
    weights = m.params_b * 1e9 * BITS[workload.quant] / 8 / GIB
    kv_per_token = 2 * m.n_layers * m.n_kv_heads * m.head_dim * 2 / GIB
    kv = kv_per_token * workload.context * workload.parallel
    overhead = 0.5 * len(hardware.gpus)
    total = weights + kv + overhead
    capacity = tuple(max(s.spec.vram_gib - s.used_by_others_gib - 0.3, 0.0) for s in hardware.gpus)
    share = [c / sum(capacity) if sum(capacity) else 0 for c in capacity]
    fits = total <= sum(capacity)
    # Layer split: each GPU reads its share of the weights in turn; activations cross the links.
    seconds = sum(
        weights * f * GIB / (s.spec.mem_bandwidth_gbs * 1e9 * 0.7)
        for f, s in zip(share, hardware.gpus, strict=True)
    )
    hops = len(hardware.gpus) - 1
    split_ms = (
        hops * (m.hidden_size * 2 / (min(s.effective_link.gbs for s in hardware.gpus) * 1e9)) * 1000
        + hops * 0.1
    )
    decode = 1 / (seconds + split_ms / 1000) if fits else 0.0
    runtime = workload.runtime or "llama.cpp-cuda"
    link_s = max(
        weights * f * GIB / 1e9 / s.effective_link.gbs for f, s in zip(share, hardware.gpus, strict=True)
    )
    disk_s = weights * GIB / 1e9 / hardware.disk_read_gbs
    spare = sum(capacity) - weights - overhead
    max_context = int(spare / kv_per_token) if fits else 0
    return Estimate(
        fits=fits,
        reason="fits" if fits else "does not fit",
        runtime=runtime,
        memory=MemoryEstimate(
            weights=weights,
            kv_cache=kv,
            compute=0.0,
            overhead=overhead,
            total=total,
            per_gpu=tuple(total * f for f in share),
            capacity=capacity,
            host_ram=0.0,
        ),
        decode_tokens_per_s=decode,
        decode_tokens_per_s_total=decode,
        prefill_tokens_per_s=decode * 40,
        ttft_s=0.1,
        max_context=max_context,
        max_parallel=1 if fits else 0,
        load_seconds=max(link_s, disk_s),
        load_seconds_link=link_s,
        load_seconds_disk=disk_s,
        split_ms_per_token=split_ms,
        bottleneck="memory bandwidth",
    )


def _gpu_spec(key: str) -> GpuSpec:
    try:
        return SPECS[key]
    except KeyError:
        raise UnknownNameError(
            Problem(f"unknown GPU key {key!r}", suggestions=did_you_mean(key, SPECS))
        ) from None


def _model_lookup(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownNameError(
            Problem(f"unknown model {name!r}", field="model", suggestions=did_you_mean(name, MODELS))
        ) from None


def _runtimes(spec: GpuSpec) -> list[str]:
    if spec.vendor == "nvidia":
        cc = spec.cc_major_minor or (0, 0)
        return ["llama.cpp-cuda", "llama.cpp-vulkan", *(["vllm"] if cc >= (7, 0) else [])]
    return ["llama.cpp-vulkan"]


def fake_speed_factor(spec: GpuSpec, limit_w: float | None, phase: str) -> float:
    """Decode slows with the cube root of the power cut, like a clock-bound kernel would."""
    if limit_w is None or limit_w >= spec.tdp_w:
        return 1.0
    return (limit_w / spec.tdp_w) ** (1 / 3)


def fake_tools(runtimes: object = None) -> AssessTools:
    return AssessTools(
        gpu_spec=_gpu_spec,
        model=_model_lookup,
        estimator=fake_estimate,
        runtimes_for=runtimes or _runtimes,  # type: ignore[arg-type]
        speed_factor=fake_speed_factor,
    )


def gpu(model: str, vram: float | None = None, gen: int = 1, width: int = 1, **kw: object) -> Gpu:
    return Gpu(
        model=model,
        vram_gib=vram or SPECS[model].vram_gib if model in SPECS else vram or 8,
        pcie=PcieState(gen=gen, width=width),
        **kw,
    )  # type: ignore[arg-type]


def rig(name: str, gpus: list[Gpu], ram: float = 8, cores: int = 2, disk: float = 120, **kw: object) -> Rig:
    return Rig(name=name, site="s1", cpu_cores=cores, ram_gib=ram, disk_gib=disk, gpus=gpus, **kw)  # type: ignore[arg-type]


def fleet(*rigs: Rig) -> Fleet:
    return Fleet(name="test", sites=[Site(name="s1")], rigs=list(rigs))


def mixed_fleet() -> Fleet:
    """One rig of each kind the tests reason about."""
    return fleet(
        rig("r3060", [gpu("rtx-3060-12g") for _ in range(6)]),
        rig("r3090", [gpu("rtx-3090") for _ in range(4)], ram=16),
        rig("r1070", [gpu("gtx-1070") for _ in range(6)]),
        rig("r580", [gpu("rx-580-8g") for _ in range(8)], cores=4),
        rig("r1050", [gpu("gtx-1050-2g") for _ in range(4)]),
        rig(
            "rminer", [gpu("rtx-3060-12g", vram_used_by_others_gib=9.0, miner_running=True) for _ in range(2)]
        ),
    )
