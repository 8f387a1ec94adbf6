"""Priors for architecture classes: how far each (runtime, architecture class, quant family)
really gets from the estimator's physical model, fitted on published measurements.

The estimator's runtime profiles (`runtimes.py`) were fitted on llama-bench tables of 2020s
NVIDIA cards. Mining-era cards run the same kernels differently: Vulkan shaders on GCN/Polaris
reach far less of the memory bandwidth than CUDA does on Ampere, Pascal's dp4a int8 path runs
prompt processing faster than the FP32 it is rated by, K-quant dequantisation costs cards without
fast FP16 more than legacy quants, CMP cards run crippled. Each such effect is a multiplier on the
runtime's decode efficiency (share of bandwidth) and prefill efficiency (share of matrix rate),
looked up by (runtime, class, quant family), then (runtime, class, any quant). The table lives in
`priors.yaml`, with the rows each factor rests on, their number and spread; docs/estimator.md
tabulates it and `bench/mining_priors.py --fit` re-derives it from the published rows (kept
outside this repository).

A class/runtime with no published rows gets the neutral factor 1.0 (or, for AMD and Intel cards on
Vulkan/ROCm, an explicit entry at the median of the measured AMD classes: every one of those ran at
0.33-0.66 of the bare model, so 1.0 would lean optimistic), flagged with a wide spread
(`uncalibrated_spread_pct`) — never shown with the confidence of a fitted one.

Each entry's interval is asymmetric: `decode_spread_pct` above (the 80th percentile of its rows'
residuals) and `decode_low_pct` below, wide enough that every published single-GPU row of the
class, and the repository's own example measurement, lies inside the interval of its estimate
(`bench/mining_priors.py` checks it). Money-moving decisions read that low end
(`Estimate.decode_tps_low`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

import yaml

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.estimate.quants import QuantRecipe

_TABLE = "priors.yaml"


@dataclass(frozen=True)
class Prior:
    """Multipliers on a runtime profile's efficiencies for one (runtime, class, quant family)."""

    runtime: str
    arch_class: str
    quant: str  # "kquant", "legacy", "iquant", "float" or "*"
    decode: float = 1.0
    prefill: float = 1.0
    decode_rows: int = 0
    prefill_rows: int = 0
    decode_spread_pct: float = 0.0
    prefill_spread_pct: float = 0.0
    rests_on: str = ""
    # How far below the factor the slowest published row of the class sits, in % (the interval's
    # low end is decode ÷ (1 + low/100)); never narrower than the spread above.
    decode_low_pct: float = 0.0

    @property
    def uncalibrated(self) -> bool:
        """No published row for this class and runtime: the factor is an assumption."""
        return self.decode_rows == 0

    @property
    def low_pct(self) -> float:
        return max(self.decode_low_pct, self.decode_spread_pct)

    @property
    def label(self) -> str:
        return f"{self.arch_class}/{short_runtime(self.runtime)}"


def short_runtime(runtime: str) -> str:
    return runtime.removeprefix("llama.cpp-")


# AMD architecture classes by gfx target prefix.
_GFX_FAMILIES = (
    ("gfx80", "polaris"),
    ("gfx90", "vega"),
    ("gfx101", "rdna1"),
    ("gfx103", "rdna2"),
    ("gfx11", "rdna3"),
    ("gfx12", "rdna4"),
)


def arch_class(spec: GpuSpec, runtime: str = "") -> str:
    """The architecture class a card's priors are looked up by.

    NVIDIA by compute capability (CMP cards apart: their FMA/FP32 and links are cut down), AMD by
    gfx target family, Intel as one class; the CPU runtime is its own class whatever the card.
    """
    if runtime == "llama.cpp-cpu":
        return "host-cpu"
    if spec.vendor == "nvidia":
        cc = spec.cc_major_minor or (0, 0)
        base = {
            5: "maxwell",
            6: "pascal" if cc >= (6, 1) else "pascal-hbm",  # GP100 (P100): HBM2, FP16 2:1
            7: "turing" if cc >= (7, 5) else "volta",
            8: "ada" if cc >= (8, 9) else "ampere",
            9: "hopper",
        }.get(cc[0], "blackwell" if cc[0] >= 10 else "nvidia-other")
        if "CMP " in spec.name:
            # CMP 30HX is TU116: no tensor cores, unlike the 40HX/50HX (TU106/TU102)
            return f"{base}-cmp" if spec.tensor_cores or base != "turing" else "turing-cmp-tu116"
        return base
    if spec.vendor == "amd":
        gfx = spec.gfx_target or ""
        return next((family for prefix, family in _GFX_FAMILIES if gfx.startswith(prefix)), "amd-other")
    return "intel-arc"


def quant_family(recipe: QuantRecipe) -> str:
    """'kquant' (Q2_K..Q6_K mixes), 'iquant' (IQ*), 'legacy' (Q4_0..Q8_0), 'float', or the
    non-GGUF family (gptq, awq, fp8)."""
    if recipe.family != "gguf":
        return "float" if recipe.family == "float" else recipe.family
    name = recipe.name.upper()
    if name.startswith("IQ") or name.startswith("MXFP"):
        return "iquant"
    if "_K" in name:
        return "kquant"
    return "legacy"


@dataclass(frozen=True)
class PriorTable:
    priors: tuple[Prior, ...]
    uncalibrated_spread_pct: float
    default_spread_pct: float  # classes whose runtime profile was itself fitted on them
    by_key: dict[tuple[str, str, str], Prior] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        self.by_key.update({(p.runtime, p.arch_class, p.quant): p for p in self.priors})

    def lookup(self, runtime: str, klass: str, quant: str) -> Prior:
        whole_class = self.by_key.get((runtime, klass, "*"))
        specific = self.by_key.get((runtime, klass, quant))
        if specific is not None:
            # A quant family's rows are a subset of the class's: its low end is at least as wide
            # as the class's (builds and drivers slow every quant alike).
            floor = whole_class.low_pct if whole_class is not None else 0.0
            return replace(specific, decode_low_pct=max(specific.low_pct, floor))
        if whole_class is not None:
            return whole_class
        s = self.uncalibrated_spread_pct
        return Prior(runtime, klass, "*", decode_spread_pct=s, prefill_spread_pct=s, decode_low_pct=s)


def parse_table(data: dict[str, Any]) -> PriorTable:
    priors = []
    for entry in data["priors"]:
        priors.append(
            Prior(
                runtime=str(entry["runtime"]),
                arch_class=str(entry["class"]),
                quant=str(entry.get("quant", "*")),
                decode=float(entry.get("decode", 1.0)),
                prefill=float(entry.get("prefill", 1.0)),
                decode_rows=int(entry.get("decode_rows", 0)),
                prefill_rows=int(entry.get("prefill_rows", 0)),
                decode_spread_pct=float(entry.get("decode_spread_pct", data["uncalibrated_spread_pct"])),
                prefill_spread_pct=float(entry.get("prefill_spread_pct", data["uncalibrated_spread_pct"])),
                rests_on=str(entry.get("rests_on", "")),
                decode_low_pct=float(
                    entry.get(
                        "decode_low_pct", entry.get("decode_spread_pct", data["uncalibrated_spread_pct"])
                    )
                ),
            )
        )
    return PriorTable(
        tuple(priors), float(data["uncalibrated_spread_pct"]), float(data["default_spread_pct"])
    )


@functools.cache
def prior_table() -> PriorTable:
    text = resources.files("rigshift.estimate").joinpath(_TABLE).read_text(encoding="utf-8")
    return parse_table(yaml.safe_load(text))


# Set by bench/mining_priors.py --fit to fit from the bare physical model (all factors 1.0).
NEUTRAL = False


def prior_for(spec: GpuSpec, runtime: str, recipe: QuantRecipe) -> Prior:
    klass = arch_class(spec, runtime)
    if NEUTRAL:
        return Prior(runtime, klass, "*")
    return prior_table().lookup(runtime, klass, quant_family(recipe))
