"""Correcting a prior with measurements of one (card, runtime): the math, kept pure.

A measurement corrects the *model*, not the number: the correction is a multiplier on the
efficiency factors (decode: the share of memory bandwidth reached; prefill: the share of the
matrix rate), found so that the estimator reproduces the measured rate for the measured workload.
Carried through the model, a measured 8B Q4_0 decode rate then informs a 14B Q4_K_M estimate on the
same card: bytes read, per-layer overhead and split costs still come from the model.

    ratio = solve_ratio(lambda c: estimate(w, hw, correction=Correction(decode=c)).decode_tokens_per_s,
                        measured)
    combined = combine_ratios([r1, r2, ...], prior_rows=PRIOR_WEIGHT_ROWS)

`combine_ratios` takes the geometric mean of the rows' ratios and shrinks it toward 1.0 (the
prior) as if the prior were `prior_rows` rows itself: one measured row moves the estimate most of
the way, more rows move it further. `corrected_spread` shrinks the interval with the number of rows.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# How many measured rows the prior counts for when combined with measurements. 0.25: one
# measured row gets 80% of the weight. (An assumption; the leave-one-out bench checks it.)
PRIOR_WEIGHT_ROWS = 0.25
# Scatter of one (card, runtime)'s rows around a correction fitted on its other rows, in % (the
# leave-one-out bench over the published mining-card rows, docs/benchmarks.md): the floor of the
# interval once a card is calibrated.
MEASURED_SPREAD_PCT = 10.0
RATIO_BOUNDS = (0.05, 20.0)


@dataclass(frozen=True)
class Correction:
    """Multipliers on the prior's efficiency factors, from `rows` measurements of this card."""

    decode: float = 1.0
    prefill: float = 1.0
    rows: int = 0
    spread_pct: float = MEASURED_SPREAD_PCT

    def __post_init__(self) -> None:
        low, high = RATIO_BOUNDS
        for name in ("decode", "prefill"):
            value = getattr(self, name)
            if not (low <= value <= high) or math.isnan(value):
                raise ValueError(f"correction {name} must be within {RATIO_BOUNDS}, got {value}")
        if self.rows < 0:
            raise ValueError(f"correction rows must be >= 0, got {self.rows}")


def solve_ratio(
    predict: Callable[[float], float], measured: float, *, tolerance: float = 1e-4, max_steps: int = 30
) -> float:
    """The multiplier c with predict(c) == measured, for a rate that grows with c but less than
    in proportion (fixed per-step costs do not scale): the fixed-point c ← c · measured / predict(c)
    converges from below and above. Clamped to RATIO_BOUNDS when no multiplier reaches it."""
    if measured <= 0:
        raise ValueError(f"measured rate must be > 0, got {measured}")
    low, high = RATIO_BOUNDS
    c = 1.0
    for _ in range(max_steps):
        got = predict(c)
        if got <= 0:
            raise ValueError(f"predict({c}) returned {got}")
        step = measured / got
        if abs(step - 1) < tolerance:
            return c
        c = min(high, max(low, c * step))
        if c in (low, high) and (predict(c) < measured) == (c == high):
            return c  # no multiplier within bounds reaches it
    # Near the asymptote (fixed costs dominate) the fixed point crawls: bisect in log space.
    if predict(high) < measured:
        return high
    if predict(low) > measured:
        return low
    lo, hi = math.log(low), math.log(high)
    for _ in range(60):
        mid = (lo + hi) / 2
        if predict(math.exp(mid)) < measured:
            lo = mid
        else:
            hi = mid
    return math.exp((lo + hi) / 2)


def combine_ratios(ratios: Sequence[float], prior_rows: float = PRIOR_WEIGHT_ROWS) -> float:
    """Geometric mean of the rows' ratios, shrunk toward 1.0 (the prior) by `prior_rows`.

    No rows gives 1.0 exactly; the shrink fraction n / (n + prior_rows) approaches 1 as rows come.
    """
    if not ratios:
        return 1.0
    if any(r <= 0 for r in ratios):
        raise ValueError("ratios must be > 0")
    mean_log = statistics.fmean(math.log(r) for r in ratios)
    n = len(ratios)
    return math.exp(mean_log * n / (n + prior_rows))


def corrected_spread(
    prior_spread_pct: float, rows: int, row_spread_pct: float = MEASURED_SPREAD_PCT
) -> float:
    """The ± % of a corrected estimate: the prior's spread with no rows, shrinking as 1/√n toward
    the scatter measurements of one card show among themselves (never below it)."""
    if rows <= 0:
        return prior_spread_pct
    return min(prior_spread_pct, max(row_spread_pct, prior_spread_pct / math.sqrt(rows + 1)))
