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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.estimate.correction import RATIO_BOUNDS, Correction, solve_ratio
from rigshift.estimate.estimator import estimate
from rigshift.estimate.priors import arch_class as prior_class
from rigshift.estimate.priors import quant_family as prior_quant_family
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
# The prior's spread where the caller does not know one.
DEFAULT_SPREAD_PCT = 35.0
# Correction's bounds: beyond them a row is wrong, not a card.
LOG_K_RANGE = (math.log(RATIO_BOUNDS[0]), math.log(RATIO_BOUNDS[1]))

Kind = str  # "decode" | "prefill"


@functools.cache
def quant_family(quant: str) -> str:
    """The priors' quant families (kquant, iquant, legacy, float, ...): kernel families that run
    at different efficiencies."""
    return prior_quant_family(quant_recipe(quant))


def arch_class(spec: GpuSpec | None, runtime: str) -> str:
    """The class calibration pools over: the priors' architecture class (host-cpu for the CPU
    runtime, whatever the card)."""
    if runtime == "llama.cpp-cpu" or spec is None:
        return "host-cpu"
    return prior_class(spec, runtime)


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


def solve_log_ratio(rate_at: Callable[[float], float], measured: float, tol: float = 1e-6) -> float:
    """log k with rate_at(k) == measured (rate_at increasing in k); clamped to LOG_K_RANGE.

    The fixed point k <- k * measured / rate_at(k) (`correction.solve_ratio`) converges in a few
    estimator runs where fixed costs are small, with bisection as its fallback near the asymptote;
    `bisect_log_ratio` is the plain bisection (the baseline of bench/calibration_load.py)."""
    return math.log(solve_ratio(rate_at, measured, tolerance=tol, max_steps=40))


def bisect_log_ratio(rate_at: Callable[[float], float], measured: float, tol: float = 1e-7) -> float:
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
    import numpy as np  # only when there are rows to pool: `rigshift estimate` starts without numpy

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
        """The estimate of `workload` on `hardware`, corrected by the rows, with its provenance.

        `result` is the prior estimate when the caller already has it; its provenance gives the
        prior's spread (the prior variance) and whether the class is calibrated at all."""
        prior = result if result is not None else estimate(workload, hardware)
        if not self.rows:
            return prior
        target = target_of(workload, hardware, prior.runtime)
        base = prior.provenance
        spread = base.spread_pct if base is not None else DEFAULT_SPREAD_PCT
        decode_scale, prefill_scale, decode, prefill = self.correct(target, spread)
        if decode.source == "prior" and prefill.source == "prior":
            return prior
        corrected = corrected_estimate(workload, hardware, decode_scale, prefill_scale)
        prov = provenance_of(decode, prefill, corrected.decode_tokens_per_s, base, target)
        return replace(corrected, provenance=prov)

    def correct(
        self, target: Target, spread_pct: float = DEFAULT_SPREAD_PCT
    ) -> tuple[float, float, Posterior, Posterior]:
        """(decode factor, prefill factor, their posteriors) for the target."""
        decode = posterior(self.rows, target, "decode", spread_pct)
        prefill = posterior(self.rows, target, "prefill", spread_pct)
        return _bounded(decode.log_ratio), _bounded(prefill.log_ratio), decode, prefill


def _bounded(log_ratio: float) -> float:
    low, high = RATIO_BOUNDS
    return min(high, max(low, math.exp(log_ratio)))


def corrected_estimate(workload: Workload, hardware: Hardware, decode: float, prefill: float) -> Estimate:
    """The estimate with decode sped up by `decode` and prefill by `prefill` (estimator
    `Correction`s, multiplying the prior's efficiency factors).

    Decode at batch 1 is the larger of a bandwidth time and a compute time (the latter at the
    prefill efficiency), so the decode factor scales both for the decode figures; prefill reads
    the weights once per micro-batch, so its run keeps the decode factor on that part. Two
    estimator runs, merged; fixed per-layer costs stay as modelled in both.
    """
    decode_run = estimate(workload, hardware, Correction(decode=decode, prefill=decode))
    if decode == prefill:
        return decode_run
    prefill_run = estimate(workload, hardware, Correction(decode=decode, prefill=prefill))
    ttft = workload.prompt_tokens / prefill_run.prefill_tokens_per_s + 1 / decode_run.decode_tokens_per_s
    return replace(decode_run, prefill_tokens_per_s=prefill_run.prefill_tokens_per_s, ttft_s=ttft)


def target_of(workload: Workload, hardware: Hardware, runtime: str) -> Target:
    spec = hardware.gpus[0].spec
    card = HOST_CARD_KEY if runtime == "llama.cpp-cpu" else spec.key
    return Target(
        card, arch_class(spec, runtime), runtime, workload.model.key, quant_recipe(workload.quant).name
    )


def provenance_of(
    decode: Posterior, prefill: Posterior, decode_tps: float, prior: Provenance | None, target: Target
) -> Provenance:
    """Measured / calibrated provenance; the interval is one sigma either side in log, like the
    prior's (decode ÷ (1 + s) .. decode × (1 + s))."""
    s = math.exp(decode.sd) - 1
    return Provenance(
        decode=decode.source,
        prefill=prefill.source,
        memory="prior",
        rows=decode.rows if decode.rows else prefill.rows,
        interval=(decode_tps / (1 + s), decode_tps * (1 + s)),
        arch_class=prior.arch_class if prior is not None else target.arch_class,
        spread_pct=s * 100,
        uncalibrated=decode.source == "prior" and prefill.source == "prior",
    )
