"""Metering arithmetic: energy per request and revenue per GPU per day. Pure functions.

Token prices come from the economics stage's shipped defaults (`rigshift.econ`, the "8b" model
class in `econ/defaults/market.yaml`: the size of model a mining card serves), so metered revenue
and the conversion economics use one price list. If those defaults cannot be loaded, the
fallback below is the cheapest public price for Llama-3.1-8B-class models in 2025-26 (DeepInfra,
about $0.03-0.05 in / $0.05 out per million, rounded up to $0.05/$0.15 because a farm without a
brand does not get premium prices but does serve some larger models): the conservative revenue
figure. `rigshift usage --price-prompt/--price-completion` overrides both.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from rigshift.units import usd_for_tokens

FALLBACK_PRICES_USD_PER_MTOK: dict[str, float] = {"prompt": 0.05, "completion": 0.15}
# Batch API tokens are billed at half the synchronous price, as OpenAI bills its Batch API
# (platform.openai.com/docs/guides/batch, read 2026-12): what buyers expect for work that may wait
# up to 24 hours, and what makes it the load a farm can move to cheap hours.
BATCH_PRICE_FACTOR = 0.5


@dataclass(frozen=True)
class TokenPrices:
    prompt_usd_per_mtok: float
    completion_usd_per_mtok: float

    def revenue_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        return usd_for_tokens(prompt_tokens, self.prompt_usd_per_mtok) + usd_for_tokens(
            completion_tokens, self.completion_usd_per_mtok
        )

    def batch_revenue_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        return BATCH_PRICE_FACTOR * self.revenue_usd(prompt_tokens, completion_tokens)


@functools.cache
def default_prices(model_class: str = "8b") -> TokenPrices:
    """econ's default token prices for `model_class`, else the documented fallback (cached)."""
    try:
        from rigshift.econ.prices.bundle import load_inputs

        classes = {p.name: p for p in load_inputs().ai.token_prices}
        chosen = classes.get(model_class) or next(iter(classes.values()))
        return TokenPrices(chosen.usd_per_m_input, chosen.usd_per_m_output)
    except Exception:  # econ is optional for metering: a broken price file must not stop billing
        return TokenPrices(FALLBACK_PRICES_USD_PER_MTOK["prompt"], FALLBACK_PRICES_USD_PER_MTOK["completion"])


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
