"""Block rewards by date: each chain's emission schedule, evaluated at the economics' as-of date.

A coin snapshot freezes the block reward of the day it was taken; the chains do not. ETC cuts it
by 20% every 5,000,000 blocks, Ravencoin halves it every 2,100,000, Ergo lowers it by 3 ERG every
64,800 blocks and, since EIP-27, passes part of it to a re-emission contract. The block height at a
date is estimated from a dated anchor block and the chain's mean block time, so within days of a
boundary the era may be off by one; the output says which era and height it assumed.

Every schedule names the public pages it follows (read 2026-12-07); docs/economics.md tabulates
them. Coins without a schedule here keep the reward their data gives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Schedule:
    tag: str
    rule: str  # one line: what the reward follows
    anchor_height: int  # a block whose date is published ...
    anchor_date: date  # ... on this day
    block_time_s: float  # the chain's mean block time, to carry the anchor to another date
    reward_at: Callable[[int], float]  # coins per block to the miner at a height
    sources: str  # public URLs, with the date they were read

    def height(self, day: date) -> int:
        return max(0, self.anchor_height + round((day - self.anchor_date).days * 86400 / self.block_time_s))

    def reward(self, day: date) -> float:
        return self.reward_at(self.height(day))


def _etc(height: int) -> float:
    """ECIP-1017 "5M20": 5 ETC in era 1 (blocks 1-5,000,000), 20% less every 5,000,000 blocks."""
    era = max(0, height - 1) // 5_000_000
    return round(5.0 * 0.8**era, 10)


def _rvn(height: int) -> float:
    """5,000 RVN per block, halved every 2,100,000 blocks."""
    return 5000.0 / 2 ** (height // 2_100_000)


ERG_FIXED_PERIOD = 525_600  # 2 years of 2-minute blocks at 75 ERG
ERG_EPOCH = 64_800  # then 3 ERG less every 90 days
ERG_EIP27_HEIGHT = 777_217
ERG_EMISSION_END = 2_080_800


def _erg(height: int) -> float:
    """The miner's share: the whitepaper's curve, less EIP-27's re-emission share (12 ERG while
    the reward is ≥ 15, else all but 3), then 3 ERG a block from re-emission."""
    if height < ERG_FIXED_PERIOD:
        reward = 75.0
    else:
        reward = max(0.0, 75.0 - 3.0 * (1 + (height - ERG_FIXED_PERIOD) // ERG_EPOCH))
    if height < ERG_EIP27_HEIGHT:
        return reward
    if height >= ERG_EMISSION_END:
        return 3.0
    return reward - 12.0 if reward >= 15.0 else 3.0


SCHEDULES: dict[str, Schedule] = {
    s.tag: s
    for s in (
        Schedule(
            "ETC",
            "ECIP-1017 5M20: 5 ETC, 20% less every 5,000,000 blocks",
            15_000_000,
            date(2022, 4, 26),
            # blocks 10,000,000 (2020-03-17) to 15,000,000 (2022-04-26): 770 days
            770 * 86400 / 5_000_000,
            _etc,
            "https://ecips.ethereumclassic.org/ECIPs/ecip-1017 ; era table "
            "https://ethereumclassic.com/news/monetary-policy-fixed ; era dates (block 10M 2020-03-17, "
            "15M 2022-04-26) https://ethereumclassicwallet.com/articles/ethereum-classic-fifthening "
            "(read 2026-12-07)",
        ),
        Schedule(
            "RVN",
            "5,000 RVN, halved every 2,100,000 blocks",
            2_100_000,
            date(2022, 1, 11),
            60.0,
            _rvn,
            "https://ravencoin.org/halving/ ; first halving (block 2,100,000) 2022-01-11 "
            "https://tokenradar.ai/tokens/ravencoin/tokenomics (read 2026-12-07)",
        ),
        Schedule(
            "ERG",
            "75 ERG for 525,600 blocks, 3 less every 64,800; EIP-27 re-emission from block 777,217",
            655_200,
            date(2022, 1, 2),
            120.0,
            _erg,
            "https://docs.ergoplatform.com/dev/data-model/block/ ; "
            "https://github.com/ergoplatform/eips/blob/master/eip-0027.md ; block 655,200 on "
            "2022-01-02 https://old.ergoplatform.com/pt/blog/2022-01-04-ergo-mining-rewards-the-first-drop-in-emission "
            "(read 2026-12-07)",
        ),
    )
}


@dataclass(frozen=True)
class ScheduledReward:
    tag: str
    reward: float
    height: int
    day: date
    schedule: Schedule

    def describe(self) -> str:
        return (
            f"{self.tag} block reward {self.reward:g} at {self.day.isoformat()} (block ~{self.height:,} "
            f"estimated; {self.schedule.rule})"
        )


def scheduled_reward(tag: str, day: date) -> ScheduledReward | None:
    """The miner's block reward of coin `tag` on `day`; None for a coin without a schedule here."""
    schedule = SCHEDULES.get(tag.upper())
    if schedule is None:
        return None
    return ScheduledReward(schedule.tag, schedule.reward(day), schedule.height(day), day, schedule)
