"""Demand: how many requests each price class can sell, and what that does to replica sizing.

Pure arithmetic over `DemandInputs` (read from files by `rigshift.econ.prices.demand`):

- `served_per_day(demand, buckets, capacity)`: requests a pool of replicas serves in a day when it
  can do `capacity` requests an hour (already at its utilisation ceiling) and the demand spreads
  over the day as the load profile says: Σ_hours min(demand that hour, capacity).
- `size_replicas(ai)`: streams x context per replica from the request mix and the demand, not a
  fixed 4 x 8k: context = the request's tokens rounded up to a power of two; streams = the
  concurrent requests at the peak hour (Little's law at `STREAM_TOKENS_PER_S`), at most
  `max_parallel`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rigshift.econ.inputs import AiInputs, DemandInputs, ModelClassPrice
from rigshift.units import usd_for_tokens

# The speed a buyer accepts per stream (the assessment's default floor, docs/assessment.md): a
# request holds a stream for output_tokens / this many seconds.
STREAM_TOKENS_PER_S = 20.0
MIN_CONTEXT = 512


def served_per_day(
    requests_per_day: float, buckets: Sequence[tuple[float, float]], capacity_per_hour: float
) -> float:
    """Requests served in a day: each hour, the smaller of that hour's demand and the capacity."""
    return sum(hours * min(requests_per_day * share, capacity_per_hour) for share, hours in buckets)


def peak_requests_per_s(requests_per_day: float, demand: DemandInputs) -> float:
    buckets = demand.hour_buckets()
    if not buckets:
        return 0.0
    return requests_per_day * max(share for share, _ in buckets) / 3600.0


def context_for(ai: AiInputs) -> int:
    """Tokens per stream: prompt + answer, rounded up to a power of two (the KV cache is sized by it)."""
    if ai.context is not None:
        return ai.context
    return max(MIN_CONTEXT, 1 << math.ceil(math.log2(max(1, ai.tokens_per_request))))


def parallel_for(requests_per_day: float, ai: AiInputs) -> int:
    """Streams per replica: the requests in flight at the peak hour, at most `max_parallel`."""
    if ai.parallel is not None:
        return ai.parallel
    in_flight = peak_requests_per_s(requests_per_day, ai.demand) * (
        ai.output_tokens_per_request / STREAM_TOKENS_PER_S
    )
    return max(1, min(ai.max_parallel, math.ceil(in_flight)))


def size_replicas(ai: AiInputs) -> AiInputs:
    """The same inputs with every price class's replica shape (parallel, context) filled in."""
    context = context_for(ai)
    sized: list[ModelClassPrice] = [
        p.model_copy(
            update={
                "context": p.context or context,
                "parallel": p.parallel or parallel_for(ai.demand.requests_per_day(p.name), ai),
            }
        )
        for p in ai.token_prices
    ]
    return ai.model_copy(update={"token_prices": tuple(sized)})


def usd_per_request(price: ModelClassPrice, ai: AiInputs) -> float:
    return usd_for_tokens(ai.input_tokens_per_request, price.usd_per_m_input) + usd_for_tokens(
        ai.output_tokens_per_request, price.usd_per_m_output
    )
