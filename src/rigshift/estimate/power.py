"""What a power cap costs in tokens/s.

Under a power cap the driver lowers the core clock (and voltage). Dynamic power goes as f·V² and
voltage tracks frequency over the DVFS range, so P ∝ f³ and the clock the cap allows goes as
(cap / default)^(1/3). Prompt processing is compute bound and scales with that clock. Decode is
bound by memory bandwidth, which a core-power cap leaves alone (the memory clock is separate, as
miners who undervolt the core for Ethash know), so only the core-bound share of a decode step
(DECODE_CORE_SHARE, an assumption stated in docs/estimator.md) slows down.
"""

from __future__ import annotations

from typing import Literal

from rigshift.catalog.gpu_spec import GpuSpec

DECODE_CORE_SHARE = 0.15


def clock_factor(spec: GpuSpec, limit_w: float | None) -> float:
    if limit_w is None or limit_w >= spec.tdp_w:
        return 1.0
    return max(0.05, limit_w / spec.tdp_w) ** (1 / 3)


def speed_factor_at_power_limit(
    spec: GpuSpec, limit_w: float | None, phase: Literal["decode", "prefill"] = "decode"
) -> float:
    """Throughput at `limit_w` as a fraction of throughput at the card's default limit (TDP)."""
    clock = clock_factor(spec, limit_w)
    if phase == "prefill":
        return clock
    return 1 / ((1 - DECODE_CORE_SHARE) + DECODE_CORE_SHARE / clock)


def serving_power_w(
    spec: GpuSpec, limit_w: float | None, phase: Literal["decode", "prefill"] = "decode"
) -> float:
    """Board power while serving: decode leaves the cores partly idle waiting on memory."""
    cap = min(limit_w or spec.tdp_w, spec.tdp_w)
    return cap * (0.7 if phase == "decode" else 1.0)
