"""Metering arithmetic: energy per request and revenue per GPU per day. Pure functions.

Token prices come from `rigshift.econ` when that module publishes defaults
(`DEFAULT_TOKEN_PRICES_USD_PER_MTOK`); otherwise from `FALLBACK_PRICES_USD_PER_MTOK` below.
The fallback is what hosted APIs charged in 2025 for open 7-8B models (Llama-3.1-8B-Instruct at
roughly $0.02-0.06 per million input and $0.05-0.20 per million output tokens on DeepInfra,
Together, Groq): the market a mining farm competes in, since a mining card serves models of that
size. `rigshift usage --price-prompt/--price-completion` overrides both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

FALLBACK_PRICES_USD_PER_MTOK: dict[str, float] = {"prompt": 0.05, "completion": 0.15}


@dataclass(frozen=True)
class TokenPrices:
    prompt_usd_per_mtok: float
    completion_usd_per_mtok: float

    def revenue_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.prompt_usd_per_mtok + completion_tokens * self.completion_usd_per_mtok
        ) / 1e6


def default_prices() -> TokenPrices:
    """econ's default token prices when it has them, else the documented fallback."""
    table = FALLBACK_PRICES_USD_PER_MTOK
    try:
        from rigshift import econ  # optional sibling module, written by the economics stage

        table = {**table, **getattr(econ, "DEFAULT_TOKEN_PRICES_USD_PER_MTOK", {})}
    except ImportError:
        pass
    return TokenPrices(float(table["prompt"]), float(table["completion"]))


def energy_wh(watts: float | None, duration_s: float, concurrent: int) -> float:
    """A request's share of its replica's energy: draw x time / requests sharing the GPUs.

    Requests on one replica run batched, so each pays for the time it held a slot divided by
    how many slots were busy when it started; with no wattage known the energy is 0, not a guess.
    """
    if not watts or duration_s <= 0:
        return 0.0
    return watts * duration_s / 3600.0 / max(1, concurrent)


def revenue_per_gpu_day(revenue_usd: float, gpus: Iterable[str], window_s: float) -> float | None:
    """Revenue spread over the distinct GPUs that earned it, per 24 h of the window."""
    distinct = {g for g in gpus if g}
    if not distinct or window_s <= 0:
        return None
    return revenue_usd / len(distinct) / (window_s / 86400.0)
