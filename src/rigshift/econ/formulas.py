"""The money formulas, one function each, in the units the docs use.

docs/economics.md writes each one out with a worked example; tests/econ/test_worked_example.py
checks the example against hand-computed numbers. Everything is a plain float function: no
rounding here (the renderers round for display), no I/O.
"""

from __future__ import annotations

import math

HOURS_PER_DAY = 24.0
SECONDS_PER_DAY = 86_400.0
DAYS_PER_MONTH = 365.25 / 12  # 30.4375: a mean month, so 12 months make a year


def energy_kwh_per_day(watts: float, pue: float) -> float:
    """Energy bought from the grid for a load of `watts` running all day: the load times the PUE."""
    return watts * HOURS_PER_DAY / 1000.0 * pue


def power_cost_per_day(watts: float, usd_per_kwh: float, pue: float) -> float:
    return energy_kwh_per_day(watts, pue) * usd_per_kwh


def mining_coins_per_day(
    hashrate_hs: float, nethash_hs: float, block_reward: float, block_time_s: float, pool_fee: float
) -> float:
    """A card's share of the network times the coins minted per day, less the pool's fee."""
    blocks_per_day = SECONDS_PER_DAY / block_time_s
    return hashrate_hs / nethash_hs * block_reward * blocks_per_day * (1.0 - pool_fee)


def mining_revenue_per_day(
    hashrate_hs: float,
    nethash_hs: float,
    block_reward: float,
    block_time_s: float,
    pool_fee: float,
    price_usd: float,
) -> float:
    return mining_coins_per_day(hashrate_hs, nethash_hs, block_reward, block_time_s, pool_fee) * price_usd


def rental_revenue_per_day(usd_per_hour: float, utilisation: float, marketplace_fee: float) -> float:
    """Rent for the hours a renter holds the card, less the marketplace's cut."""
    return usd_per_hour * HOURS_PER_DAY * utilisation * (1.0 - marketplace_fee)


def requests_per_second(
    input_tokens: int, output_tokens: int, prefill_tokens_per_s: float, decode_tokens_per_s: float
) -> float:
    """Requests one replica completes per busy second: read the prompt, then write the answer.

    An approximation that treats prefill and decode as taking turns; `decode_tokens_per_s` is the
    replica's total over its parallel streams, so batching shows up as a faster decode.
    """
    seconds = input_tokens / prefill_tokens_per_s + output_tokens / decode_tokens_per_s
    return 1.0 / seconds


def duty_watts(busy_w: float, idle_w: float, utilisation: float) -> float:
    """Mean draw of a card that is busy `utilisation` of the time and idles otherwise."""
    return utilisation * busy_w + (1.0 - utilisation) * idle_w


def break_even_power_price(revenue_per_day: float, watts: float, pue: float) -> float | None:
    """The $/kWh at which a use's revenue just pays its power; None when it draws nothing."""
    kwh = energy_kwh_per_day(watts, pue)
    if kwh <= 0:
        return None
    return revenue_per_day / kwh


def break_even_utilisation(
    revenue_per_day_at_full: float,
    busy_w: float,
    idle_w: float,
    fixed_w: float,
    usd_per_kwh: float,
    pue: float,
    target_net_per_day: float,
) -> float | None:
    """Utilisation u at which inference nets `target_net_per_day` (the card's best other use).

    net(u) = u·R − [u·busy + (1−u)·idle + fixed]·c, with c the cost of one watt for a day, is
    linear in u, so u* = (target + (idle + fixed)·c) / (R − (busy − idle)·c). None when more
    utilisation never helps or the answer lies outside [0, 1].
    """
    c = power_cost_per_day(1.0, usd_per_kwh, pue)
    slope = revenue_per_day_at_full - (busy_w - idle_w) * c
    if slope <= 0:
        return None
    u = (target_net_per_day + (idle_w + fixed_w) * c) / slope
    if u > 1.0:
        return None
    return max(u, 0.0)


def monthly_rate(annual_rate: float) -> float:
    """The monthly rate that compounds to `annual_rate` over a year."""
    return (1.0 + annual_rate) ** (1.0 / 12.0) - 1.0


def annuity_factor(months: int, monthly: float) -> float:
    """Present value of 1 $ a month for `months` months at `monthly` interest."""
    if monthly == 0:
        return float(months)
    return (1.0 - (1.0 + monthly) ** -months) / monthly


def payback_months(capex: float, monthly_gain: float, annual_rate: float) -> float | None:
    """Months until the discounted monthly gains repay `capex`; 0 when it costs nothing, None when never.

    Solves capex = gain · (1 − (1+r)^−n) / r for n; with r = 0 that is capex / gain.
    """
    if capex <= 0:
        return 0.0
    if monthly_gain <= 0:
        return None
    r = monthly_rate(annual_rate)
    if r == 0:
        return capex / monthly_gain
    x = 1.0 - r * capex / monthly_gain
    if x <= 0:
        return None  # the gain never even covers the interest
    return -math.log(x) / math.log(1.0 + r)
