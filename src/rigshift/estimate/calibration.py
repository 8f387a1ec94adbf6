"""Measured rows correct the estimator: per card, shrunk toward the prior, through the model.

Each measured row (a llama-bench tgN or ppN result) is turned into a *log efficiency ratio*: the
factor k by which the runtime's modelled decode (or prefill) efficiency must be scaled for the
estimator to reproduce the measured rate, found by bisection on the estimator itself. A ratio is
a property of the card and the runtime's kernels, not of one model, so it carries to other models
on the same card through the model (fixed per-layer costs, KV reads and weight bytes stay
modelled): an 8B Q4_0 tg128 informs a 14B Q4_K_M estimate without copying the 8B's rate.

The ratios are pooled with a hierarchical Gaussian model (empirical Bayes with the prior's spread
as the prior variance), per runtime and kind (decode, prefill):

    r_i = a[class] + b[card] + c[card, quant family] + d[card, quant] + e_i
    a ~ N(0, τ_class²), b ~ N(0, τ_card²), c ~ N(0, τ_family²), d ~ N(0, τ_quant²), e_i ~ N(0, σ_i²)

with τ_class² + τ_card² + τ_family² + τ_quant² = log(1 + spread)², `spread` the prior's relative spread
(one sigma) for that class, and σ_i² = σ_model² + (the row's relative stddev)². The posterior of the
target θ = a + b + c is the Gaussian conditional mean k·K⁻¹·r with variance v − k·K⁻¹·k (K the
rows' covariance, k their covariance with θ), so: no rows give the prior (θ = 0, its spread);
rows of the same card and quant pull hardest (on a CPU, Q4_0 and Q8_0 kernels differ
more than the model's bytes and FLOPs say), then the card's other quants, rows of other cards of the class less, rows of other classes
not at all; every added row can only shrink the variance.

A row for exactly this card, runtime, model and quant makes the number `measured`: its own ratio
is used unshrunk, so the estimate at the row's test conditions is the measured rate.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.estimate.efficiency import EfficiencyScale
from rigshift.estimate.estimator import estimate
from rigshift.estimate.provenance import Provenance, Source
from rigshift.estimate.quants import quant_recipe
from rigshift.estimate.types import Estimate, Hardware, Workload

# The card identity of CPU-runtime measurements: the host, not a GPU. The estimator's CPU
# runtime ignores the GPU's figures, so its measurements apply whatever GPU is named.
HOST_CARD_KEY = "host-cpu"

# One sigma of what a ratio learned on one model shape misses on another (shape transfer,
# thermal state, build to build), in log units: 5%.
SIGMA_MODEL = 0.05
# Shares of the prior variance at card, card×quant-family and card×quant level (the rest is
# the class), log units.
TAU_CARD = 0.08
TAU_FAMILY = 0.06
TAU_QUANT = 0.06
# The prior's spread where the caller does not know one (a class with no published rows).
DEFAULT_SPREAD_PCT = 35.0
# Until the prior carries its own provenance: classes the published calibration rows cover
# (docs/estimator.md) get this spread, the rest DEFAULT_SPREAD_PCT and the "uncalibrated" flag.
FITTED_SPREAD_PCT = 15.0
_FITTED_CLASSES = {("llama.cpp-cuda", a) for a in ("Ampere", "Ada Lovelace", "Hopper", "Turing")}
Z_90 = 1.645  # intervals are 90%
LOG_K_RANGE = (-5.0, 5.0)  # efficiency factors from 1/148 to 148: beyond that the row is wrong

Kind = str  # "decode" | "prefill"


@functools.cache
def quant_family(quant: str) -> str:
    """legacy (Q4_0, Q8_0, ...), k (Q4_K_M, ...), iq (IQ4_XS, ...), float (F16), mxfp4, or the
    recipe's family (gptq, awq, fp8): the kernel families that run at different efficiencies."""
    name = quant_recipe(quant).name.upper()
    if name in ("F16", "BF16", "F32"):
        return "float"
    if name.startswith("IQ"):
        return "iq"
    if "_K" in name:
        return "k"
    if name.startswith("Q"):
        return "legacy"
    if name == "MXFP4":
        return "mxfp4"
    return quant_recipe(quant).family


def arch_class(spec: GpuSpec | None, runtime: str) -> str:
    """The class calibration pools over: the host for the CPU runtime, else the GPU architecture."""
    if runtime == "llama.cpp-cpu" or spec is None:
        return "host CPU"
    return f"{spec.vendor} {spec.architecture}"


@dataclass(frozen=True)
class RatioRow:
    """One measured row, reduced to what the pooling needs."""

    card_key: str
    arch_class: str
    runtime: str
    kind: Kind
    model_key: str
    quant: str
    log_ratio: float  # log of the efficiency factor that reproduces the measurement
    noise: float  # σ_i, log units
    n_prompt: int = 0
    n_gen: int = 0
    n_depth: int = 0
    tokens_per_s: float = 0.0

    @property
    def quant_family(self) -> str:
        return quant_family(self.quant)


@dataclass(frozen=True)
class Target:
    card_key: str
    arch_class: str
    runtime: str
    model_key: str
    quant: str


@dataclass(frozen=True)
class Posterior:
    log_ratio: float
    sd: float  # log units
    rows: int  # rows that informed it
    source: Source


def solve_log_ratio(rate_at: Callable[[float], float], measured: float, tol: float = 1e-7) -> float:
    """log k with rate_at(k) == measured (rate_at increasing in k), by bisection; clamped."""
    low, high = LOG_K_RANGE
    target = math.log(measured)
    if math.log(rate_at(math.exp(high))) <= target:
        return high
    if math.log(rate_at(math.exp(low))) >= target:
        return low
    while high - low > tol:
        mid = (low + high) / 2
        if math.log(rate_at(math.exp(mid))) < target:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def row_noise(tokens_per_s: float, stddev: float) -> float:
    relative = min(0.5, stddev / tokens_per_s) if tokens_per_s > 0 else 0.5
    return math.sqrt(SIGMA_MODEL**2 + relative**2)


def _variances(spread_pct: float) -> tuple[float, float, float, float]:
    total = math.log1p(max(spread_pct, 1.0) / 100) ** 2
    card, family, quant = TAU_CARD**2, TAU_FAMILY**2, TAU_QUANT**2
    cls = max(total - card - family - quant, 0.02**2)
    return cls, card, family, quant


def posterior(rows: Sequence[RatioRow], target: Target, kind: Kind, spread_pct: float) -> Posterior:
    """The target's log efficiency ratio given the rows (module docstring)."""
    tau_cls, tau_card, tau_family, tau_quant = _variances(spread_pct)
    prior_var = tau_cls + tau_card + tau_family + tau_quant
    same = [
        r
        for r in rows
        if r.kind == kind and r.runtime == target.runtime and r.arch_class == target.arch_class
    ]
    exact = [
        r
        for r in same
        if r.card_key == target.card_key and r.model_key == target.model_key and r.quant == target.quant
    ]
    if exact:
        weights = np.array([1 / r.noise**2 for r in exact])
        values = np.array([r.log_ratio for r in exact])
        mean = float(weights @ values / weights.sum())
        spread = float(np.sqrt(1 / weights.sum()))
        return Posterior(mean, spread, len(exact), "measured")
    if not same:
        return Posterior(0.0, math.sqrt(prior_var), 0, "prior")

    def cov(a_card: str, a_quant: str, b_card: str, b_quant: str) -> float:
        value = tau_cls
        if a_card == b_card:
            value += tau_card
            if quant_family(a_quant) == quant_family(b_quant):
                value += tau_family
                if a_quant == b_quant:
                    value += tau_quant
        return value

    n = len(same)
    big_k = np.empty((n, n))
    for i, ri in enumerate(same):
        for j, rj in enumerate(same):
            big_k[i, j] = cov(ri.card_key, ri.quant, rj.card_key, rj.quant)
        big_k[i, i] += ri.noise**2
    small_k = np.array([cov(target.card_key, target.quant, r.card_key, r.quant) for r in same])
    r = np.array([row.log_ratio for row in same])
    solved = np.linalg.solve(big_k, np.column_stack([r, small_k]))
    mean = float(small_k @ solved[:, 0])
    var = max(prior_var - float(small_k @ solved[:, 1]), 1e-8)
    return Posterior(mean, math.sqrt(var), n, "calibrated")


@dataclass(frozen=True)
class Calibration:
    """Measured ratios, ready to correct estimates (`apply`). Empty: every estimate is the prior."""

    rows: tuple[RatioRow, ...] = ()
    skipped: tuple[str, ...] = ()  # rows left out, and why (partial offload, mixed tests, ...)

    def __bool__(self) -> bool:
        return bool(self.rows)

    def apply(self, workload: Workload, hardware: Hardware, result: Estimate | None = None) -> Estimate:
        """The estimate of `workload` on `hardware`, corrected by the rows, with its provenance."""
        result = result if result is not None else estimate(workload, hardware)
        target = target_of(workload, hardware, result.runtime)
        if result.provenance is not None:
            spread, uncalibrated = result.provenance.spread_pct, result.provenance.uncalibrated
        else:
            spec = hardware.gpus[0].spec
            fitted = (result.runtime, spec.architecture) in _FITTED_CLASSES
            spread = FITTED_SPREAD_PCT if fitted else DEFAULT_SPREAD_PCT
            uncalibrated = not fitted
        scale, decode, prefill = self.correct(target, spread)
        if scale != EfficiencyScale():
            result = scaled_estimate(workload, hardware, scale)
        prov = provenance_of(decode, prefill, result.decode_tokens_per_s, target, uncalibrated)
        return replace(result, provenance=prov)

    def correct(
        self, target: Target, spread_pct: float = DEFAULT_SPREAD_PCT
    ) -> tuple[EfficiencyScale, Posterior, Posterior]:
        decode = posterior(self.rows, target, "decode", spread_pct)
        prefill = posterior(self.rows, target, "prefill", spread_pct)
        return EfficiencyScale(math.exp(decode.log_ratio), math.exp(prefill.log_ratio)), decode, prefill


def scaled_estimate(workload: Workload, hardware: Hardware, scale: EfficiencyScale) -> Estimate:
    """The estimate with decode sped up by `scale.decode` and prefill by `scale.prefill`.

    Decode at batch 1 is the larger of a bandwidth time and a compute time (the latter at the
    prefill efficiency), so the decode factor scales both for the decode figures; prefill reads
    the weights once per micro-batch, so its run keeps the decode factor on that part. Two
    estimator runs, merged; fixed per-layer costs stay as modelled in both.
    """
    if scale.decode == scale.prefill:
        return estimate(workload, hardware, efficiency=scale)
    decode_run = estimate(workload, hardware, efficiency=EfficiencyScale(scale.decode, scale.decode))
    prefill_run = estimate(workload, hardware, efficiency=scale)
    ttft = workload.prompt_tokens / prefill_run.prefill_tokens_per_s + 1 / decode_run.decode_tokens_per_s
    return replace(decode_run, prefill_tokens_per_s=prefill_run.prefill_tokens_per_s, ttft_s=ttft)


def target_of(workload: Workload, hardware: Hardware, runtime: str) -> Target:
    spec = hardware.gpus[0].spec
    card = HOST_CARD_KEY if runtime == "llama.cpp-cpu" else spec.key
    return Target(
        card, arch_class(spec, runtime), runtime, workload.model.key, quant_recipe(workload.quant).name
    )


def provenance_of(
    decode: Posterior, prefill: Posterior, decode_tps: float, target: Target, uncalibrated: bool
) -> Provenance:
    low, high = decode_tps * math.exp(-Z_90 * decode.sd), decode_tps * math.exp(Z_90 * decode.sd)
    return Provenance(
        decode=decode.source,
        prefill=prefill.source,
        memory="prior",
        rows=max(decode.rows, prefill.rows) if decode.rows or prefill.rows else 0,
        interval=(low, high),
        arch_class=target.arch_class,
        spread_pct=(math.exp(decode.sd) - 1) * 100,
        uncalibrated=uncalibrated and decode.source == "prior",
    )


def describe(p: Provenance) -> str:
    """`measured`, `calibrated (N rows)` or `prior (class, ±x%)`, as the CLI prints it."""
    if p.decode == "measured":
        return "measured"
    if p.decode == "calibrated":
        return f"calibrated ({p.rows} row{'s' if p.rows != 1 else ''})"
    flag = ", uncalibrated" if p.uncalibrated else ""
    return f"prior ({p.arch_class}, ±{p.spread_pct:.0f}%{flag})"


def merge(calibrations: Iterable[Calibration]) -> Calibration:
    rows: list[RatioRow] = []
    skipped: list[str] = []
    for c in calibrations:
        rows += c.rows
        skipped += c.skipped
    return Calibration(tuple(rows), tuple(skipped))
