"""A year of prices, interval by interval, under the energy policy and the four baselines miners run.

Vectorised with numpy over the intervals (a farm-year at 15 minutes is 35,136 of them): each card
group's role counts are arrays over time; only the batch backlog (earliest deadline first) is a
loop over intervals, on per-interval totals.

Strategies (docs/energy.md defines each and every reported field):

- `policy`: per interval, the SLO's minimum replicas (unless the price is above the ceiling, the
  value of lost load); more replicas only while a replica earns more than its power and than the
  card would mine; batch only where it pays, shifted to cheaper intervals while its deadline allows
  (the day-ahead curve when known, else the share of the past day's prices below now); free cards,
  converted or not, mine when mining pays; nothing else runs at a loss. Site cap, demand-response
  events and 4CP peak risk (policy.peak_risk) limit it.
- `always_on`: replicas for the demand and batch as it arrives, at full power, whatever the price;
  the cards not converted mine around the clock.
- `mining_only`: every card mines around the clock.
- `mining_curtailed`: every card (the converted ones too) mines only when its coins pay its power.
- `ai_curtailed`: the converted cards serve and run batch only in intervals where a token pays its
  power (no SLO kept at a loss, no batch shifting); the rest mine when mining pays.

A card that does nothing is powered down (no draw). The books: energy at the hour's price (index)
or the contract (fixed: take-or-pay, unused power resold at the hour's price: a power credit), 4CP
transmission, demand-response payments, token and mining revenue, staff per AI GPU-month.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rigshift.econ.prices.power_series import PriceSeries
from rigshift.energy.contracts import PowerTerms, SitePower, read_peaks
from rigshift.energy.demand import ArrivingJob, Demand, Event, batch_jobs
from rigshift.energy.farm import Farm, SiteFarm
from rigshift.energy.policy import INTERACTIVE_CAP_FLOOR, InteractiveNeed, check_feasible, peak_risk

STRATEGIES = ("policy", "always_on", "mining_only", "mining_curtailed", "ai_curtailed")
BASELINES = STRATEGIES[1:]
HIGH_PRICE_USD_MWH = 1000.0
BANDS: tuple[tuple[str, float, float], ...] = (
    ("below_0", -math.inf, 0.0),
    ("0_50", 0.0, 50.0),
    ("50_200", 50.0, 200.0),
    ("200_1000", 200.0, 1000.0),
    ("1000_up", 1000.0, math.inf),
)
ROLES = ("interactive", "batch", "mining")
BATCH_FUTURE_SHARE = 0.75  # of the capacity of a later interval counted as room to wait in
DEADLINE_GUARD_S = 3600.0
DAY_AHEAD_HORIZON_S = 24 * 3600
DAYS_PER_MONTH = 365.25 / 12
TOTAL_KEYS = (
    "net_usd",
    "energy_cost_usd",
    "token_revenue_usd",
    "mining_revenue_usd",
    "power_credit_usd",
    "fixed_cost_usd",
    "batch_deadlines_met",
    "batch_deadlines_total",
    "slo_minutes_lost",
    "hours_off",
)


@dataclass
class Totals:
    net_usd: float = 0.0
    energy_cost_usd: float = 0.0
    token_revenue_usd: float = 0.0
    mining_revenue_usd: float = 0.0
    power_credit_usd: float = 0.0
    fixed_cost_usd: float = 0.0
    batch_deadlines_met: int = 0
    batch_deadlines_total: int = 0
    slo_minutes_lost: float = 0.0
    hours_off: float = 0.0
    # the parts
    energy_kwh: float = 0.0
    interactive_revenue_usd: float = 0.0
    batch_revenue_usd: float = 0.0
    transmission_usd: float = 0.0
    demand_response_usd: float = 0.0
    resale_usd: float = 0.0
    slo_minutes_lost_in_events: float = 0.0
    slo_minutes_above_ceiling: float = 0.0
    interactive_tokens_unserved: float = 0.0
    batch_tokens_missed: float = 0.0
    curtailment_share: float = 0.0  # of card-hours, cards powered down
    hours: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(float(v), 4) if isinstance(v, float) else int(v)) for k, v in self.__dict__.items()}

    def add(self, other: Totals) -> None:
        for k, v in other.__dict__.items():
            if k not in ("curtailment_share", "hours", "hours_off"):
                setattr(self, k, getattr(self, k) + v)


@dataclass
class SiteRun:
    totals: Totals
    power_kw: np.ndarray  # at the meter
    replicas: np.ndarray
    batch_cards: np.ndarray
    mining_cards: np.ndarray
    off_cards: np.ndarray
    caps_w: np.ndarray  # mean cap of the AI cards that run (0 when none)
    in_event: np.ndarray
    batch_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0))  # batch tokens run
    roles: dict[str, Any] = field(default_factory=dict)
    high_price: dict[str, float] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    card_hours: float = 0.0
    off_card_hours: float = 0.0


@dataclass
class _Site:
    """One site's arrays, prepared once for every strategy."""

    farm: SiteFarm
    prices: PriceSeries
    p: np.ndarray  # $/kWh, the market price (the marginal cost under either contract)
    c: np.ndarray  # $/kWh at the cards (PUE included)
    dt_h: float
    demand_tps: np.ndarray
    usd_tok: float  # $ per interactive output token
    min_replicas: int
    jobs: list[ArrivingJob]
    terms: SitePower
    voll_kwh: float  # the SLO replicas' ceiling, $/kWh
    risk: np.ndarray  # 4CP peak risk (policy only)
    peaks: np.ndarray  # indices of the 4CP peak intervals
    day_ahead: bool
    # per group (G) and cap level (L)
    count: np.ndarray
    converted: np.ndarray
    tps: np.ndarray  # G x L, tokens/s of one card
    kw: np.ndarray  # G x L, kW of one working card (draw + host share)
    caps: np.ndarray  # G x L, W
    floor_ok: np.ndarray  # G x L, the cap is allowed for interactive outside an event
    mine_usd: np.ndarray  # G, $/h
    mine_kw: np.ndarray  # G


def _prepare(
    farm: SiteFarm,
    prices: PriceSeries,
    demand: Demand,
    terms: PowerTerms,
    day_ahead: bool,
) -> _Site:
    starts = prices.starts
    groups = farm.groups
    levels = max((len(g.levels) for g in groups), default=1) or 1
    G = len(groups)
    tps, kw, caps = np.zeros((G, levels)), np.zeros((G, levels)), np.zeros((G, levels))
    floor_ok = np.zeros((G, levels), dtype=bool)
    for i, g in enumerate(groups):
        for j, lv in enumerate(g.levels if g.converted else ()):
            tps[i, j], kw[i, j], caps[i, j] = lv.tokens_per_s, (lv.draw_w + g.host_w) / 1000, lv.cap_w
            floor_ok[i, j] = lv.cap_w >= INTERACTIVE_CAP_FLOOR * g.tdp_w - 1e-9
    needs = [d for d in demand.interactive if d.site == farm.site]
    demand_tps = sum((d.tokens_per_s(starts) for d in needs), np.zeros(len(starts)))
    mean_need = float(demand_tps.mean()) if len(starts) else 0.0
    usd_tok = (
        sum(d.usd_per_m_tokens * d.mean_tokens_per_s for d in needs)
        / max(sum(d.mean_tokens_per_s for d in needs), 1e-12)
        / 1e6
        if needs
        else 0.0
    )
    check_feasible(
        groups,
        [InteractiveNeed(d.deployment, d.min_replicas, 0.0, 0.0) for d in needs],
        farm.pue,
        farm.cap_kw,
    )
    min_replicas = sum(d.min_replicas for d in needs)
    site_terms = terms.site(farm.site)
    step = prices.step_s
    jobs = sorted(
        (j for j in batch_jobs(demand, int(starts[0]), int(starts[-1]) + step) if j.site == farm.site),
        key=lambda j: j.arrive,
    ) if len(starts) else []  # fmt: skip
    voll = terms.voll_usd_per_mwh / 1000 if terms.voll_usd_per_mwh else _revenue_at_risk(
        mean_need, usd_tok, min_replicas, tps, kw, farm.pue
    )  # fmt: skip
    risk = np.zeros(len(starts), dtype=bool)
    peaks = np.zeros(0, dtype=np.int64)
    if site_terms.four_cp is not None:
        risk = peak_risk(starts, prices.usd_per_kwh, site_terms.four_cp.timezone)
        at = read_peaks(site_terms.four_cp.peaks)
        idx = np.searchsorted(starts, at, side="right") - 1
        inside = (idx >= 0) & (at < int(starts[-1]) + step)
        peaks = idx[inside]
    return _Site(
        farm=farm,
        prices=prices,
        p=prices.usd_per_kwh.astype(float),
        c=prices.usd_per_kwh.astype(float) * farm.pue,
        dt_h=step / 3600,
        demand_tps=demand_tps,
        usd_tok=usd_tok,
        min_replicas=min_replicas,
        jobs=jobs,
        terms=site_terms,
        voll_kwh=voll,
        risk=risk,
        peaks=peaks,
        day_ahead=day_ahead,
        count=np.array([g.count for g in groups], dtype=np.int64),
        converted=np.array([g.converted and bool(g.levels) for g in groups]),
        tps=tps,
        kw=kw,
        caps=caps,
        floor_ok=floor_ok,
        mine_usd=np.array([g.mining_usd_per_hour if g.mining_w > 0 else 0.0 for g in groups]),
        mine_kw=np.array([(g.mining_w + g.host_w) / 1000 if g.mining_w > 0 else 0.0 for g in groups]),
    )


def _revenue_at_risk(
    mean_tps: float, usd_tok: float, replicas: int, tps: np.ndarray, kw: np.ndarray, pue: float
) -> float:
    """The default ceiling, $/kWh: what the minimum replicas earn an hour at the mean demand over
    what they draw an hour (on the fastest converted card, full cap). Above it an SLO replica's
    power costs more than the revenue it keeps."""
    if replicas <= 0 or not (tps > 0).any():
        return math.inf
    g, j = np.unravel_index(np.argmax(np.where(tps > 0, tps, -1)), tps.shape)
    served = min(mean_tps, replicas * tps[g, j])
    return served * 3600 * usd_tok / (replicas * kw[g, j] * pue)


@dataclass
class _Roles:
    """What one strategy does: counts per group (G x T) and the cap level of each AI role."""

    inter: np.ndarray
    batch: np.ndarray
    mine: np.ndarray
    i_lv: np.ndarray  # G x T
    b_lv: np.ndarray
    served_tps: np.ndarray  # T
    batch_rev: float
    batch_tokens: np.ndarray  # T, tokens run
    met: int
    total: int
    missed_tokens: float
    limit_kw: np.ndarray | None = None


def _take(a: np.ndarray, lv: np.ndarray) -> np.ndarray:
    """a[g, lv[g, t]] for every (g, t)."""
    return np.take_along_axis(a, lv, axis=1) if lv.ndim == 2 else a[:, lv]


def _levels(
    s: _Site, usd_tok: float, allowed: np.ndarray | None, per_card_tps: np.ndarray | None = None
) -> np.ndarray:
    """The cap level of each group and interval with the best margin of a card: fully used, or
    serving at most `per_card_tps` (a share of the demand) when given."""
    T = len(s.p)
    tps = s.tps[:, :, None] * np.ones((1, 1, T))
    if per_card_tps is not None:
        tps = np.minimum(tps, per_card_tps[None, None, :])
    margin = tps * 3600 * usd_tok - s.kw[:, :, None] * s.c[None, None, :]
    margin = np.where(np.isfinite(margin), margin, -np.inf)
    if allowed is not None:
        margin = np.where(allowed[:, :, None], margin, -np.inf)
    if not len(margin):
        return np.zeros((0, T), dtype=np.int64)
    return np.argmax(margin, axis=1)


def _strategy(s: _Site, name: str, limit_kw: np.ndarray | None = None) -> _Roles:
    G, T = len(s.count), len(s.p)
    step = s.prices.step_s
    zeros_lv = np.zeros((G, T), dtype=np.int64)
    policy = name == "policy"
    ai = name in ("policy", "always_on", "ai_curtailed")
    mine_margin = s.mine_usd[:, None] - s.mine_kw[:, None] * s.c[None, :]  # G x T, $/h of a mining card
    serving_cards = max(1, int((s.count * s.converted).sum()))
    i_lv = _levels(s, s.usd_tok, s.floor_ok, s.demand_tps / serving_cards) if policy else zeros_lv
    inter = np.zeros((G, T), dtype=np.int64)
    extra_of = np.zeros((G, T), dtype=np.int64)
    if ai and s.min_replicas + float(s.demand_tps.max(initial=0.0)) > 0:
        inter, extra_of = _interactive(s, name, i_lv, mine_margin)
    headroom = None
    if policy:
        limits = [
            x
            for x in (limit_kw, None if s.farm.cap_kw is None else np.full(T, s.farm.cap_kw))
            if x is not None
        ]
        if limits:
            lim = np.minimum.reduce(limits)
            inter, extra_of = _shed_replicas(s, inter, extra_of, i_lv, lim, limit_kw)
            used = s.farm.pue * (inter * _take(s.kw, i_lv)).sum(axis=0)
            headroom = np.maximum(0.0, lim - used)
        if s.risk.any():  # a possible 4CP peak: only the SLO's replicas run
            inter = np.where(s.risk[None, :], inter - extra_of, inter)
            extra_of = np.where(s.risk[None, :], 0, extra_of)
            headroom = np.where(s.risk, 0.0, np.inf if headroom is None else headroom)
    i_tps = _take(s.tps, i_lv)
    served = np.minimum(s.demand_tps, (inter * i_tps).sum(axis=0)) if G else np.zeros(T)
    free = s.count[:, None] * s.converted[:, None] - inter
    # batch
    b_lv = zeros_lv
    batch = np.zeros((G, T), dtype=np.int64)
    rev, ran, met, total, missed = 0.0, np.zeros(T), 0, 0, 0.0
    jobs_usd = min((j.usd_per_m_tokens for j in s.jobs), default=0.0) / 1e6
    if ai and s.jobs:
        b_lv = _levels(s, jobs_usd, None) if policy else zeros_lv
        per_card = _take(s.tps, b_lv) * step  # tokens one card runs in an interval
        card_kw = _take(s.kw, b_lv)
        value = per_card / step * 3600 * jobs_usd - card_kw * s.c[None, :]
        if name == "always_on":
            usable = free
        elif name == "ai_curtailed":
            usable = np.where(value > 0, free, 0)
        else:  # policy: only where batch pays more than the card would mine
            usable = np.where(value > np.maximum(mine_margin, 0.0), free, 0)
        usable = np.where(per_card > 0, usable, 0)
        order = np.argsort(np.where(s.converted, s.kw[:, 0] / np.maximum(s.tps[:, 0], 1e-12), np.inf))
        if headroom is not None:
            usable = _fit(usable, card_kw * s.farm.pue, headroom, order)
        # Batch lines first fill the free slots of the replicas (their capacity above the demand):
        # their power is already paid for.
        spare = np.maximum(0.0, (inter * i_tps).sum(axis=0) - served) * step
        capacity = (usable * per_card).sum(axis=0) + spare
        rev, ran, met, total, missed = _backlog(s, capacity, shift=policy)
        batch = _spread(np.maximum(0.0, ran - spare), usable, per_card, order)
        if headroom is not None:
            headroom = headroom - s.farm.pue * (batch * card_kw).sum(axis=0)
        free = free - batch
    # mining
    can_mine = s.mine_kw > 0
    if name == "mining_only":
        mine = np.where(can_mine[:, None], s.count[:, None], 0) * np.ones((1, T), dtype=np.int64)
    elif name == "always_on":
        mine = np.where((can_mine & ~s.converted)[:, None], s.count[:, None], 0) * np.ones(
            (1, T), dtype=np.int64
        )
    else:
        if name == "mining_curtailed":
            cards = s.count[:, None] * np.ones((1, T), dtype=np.int64)
        elif policy:  # every card without AI work, converted or not
            cards = np.where(s.converted[:, None], free, s.count[:, None])
        else:
            cards = np.where(s.converted, 0, s.count)[:, None] * np.ones((1, T), dtype=np.int64)
        mine = np.where(can_mine[:, None] & (mine_margin > 0), cards, 0)
        if headroom is not None:
            order = np.argsort(-np.where(can_mine, s.mine_usd / np.maximum(s.mine_kw, 1e-12), -np.inf))
            mine = _fit(mine, np.broadcast_to(s.mine_kw[:, None] * s.farm.pue, mine.shape), headroom, order)
    return _Roles(inter, batch, mine, i_lv, b_lv, served, rev, ran, met, total, missed, limit_kw)


def _interactive(
    s: _Site, name: str, i_lv: np.ndarray, mine_margin: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Replicas per group and interval, and how many of them are above the SLO's minimum."""
    G, T = len(s.count), len(s.p)
    inter = np.zeros((G, T), dtype=np.int64)
    extra_of = np.zeros((G, T), dtype=np.int64)
    i_tps, i_kw = _take(s.tps, i_lv), _take(s.kw, i_lv)
    eff = np.where(s.converted, s.tps[:, 0] / np.maximum(s.kw[:, 0], 1e-12), -np.inf)
    order = [g for g in np.argsort(-eff) if s.converted[g]]
    rem = s.demand_tps.copy()
    placed = np.zeros(T, dtype=np.int64)
    slo_on = (
        s.c <= s.voll_kwh if name == "policy" else np.full(T, name == "always_on")
    )  # ai_curtailed keeps no SLO at a loss
    for g in order:
        n = int(s.count[g])
        tps, kw = i_tps[g], i_kw[g]
        cost = kw * s.c  # $/h of one serving card
        take = np.where(slo_on, np.clip(s.min_replicas - placed, 0, n), 0)
        rem = np.maximum(0.0, rem - take * tps)
        if name == "always_on":
            extra = np.minimum(n - take, np.ceil(rem / tps - 1e-9).astype(np.int64))
        else:
            alt = np.maximum(mine_margin[g], 0.0) if name == "policy" else np.zeros(T)
            full_ok = tps * 3600 * s.usd_tok - cost > alt
            full = np.where(full_ok, np.minimum(n - take, np.floor(rem / tps + 1e-9).astype(np.int64)), 0)
            part = np.minimum(rem - full * tps, tps)  # what one more replica would serve
            part_ok = (part > 1e-9) & (part * 3600 * s.usd_tok - cost > alt) & (take + full < n)
            extra = full + part_ok
        extra = np.maximum(extra, 0)
        rem = np.maximum(0.0, rem - extra * tps)
        inter[g] = take + extra
        extra_of[g] = extra
        placed += take + extra
    return inter, extra_of


def _shed_replicas(
    s: _Site,
    inter: np.ndarray,
    extra_of: np.ndarray,
    i_lv: np.ndarray,
    lim: np.ndarray,
    event_limit: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Replicas above the minimum, then (only in an event) the minimum, until the site is under `lim`."""
    card_kw = _take(s.kw, i_lv) * s.farm.pue
    kw = (inter * card_kw).sum(axis=0)
    excess = kw - lim
    if not (excess > 1e-9).any():
        return inter, extra_of
    inter, extra_of = inter.copy(), extra_of.copy()
    in_event = np.zeros(len(s.p), dtype=bool) if event_limit is None else np.isfinite(event_limit)
    eff = np.where(s.converted, s.tps[:, 0] / np.maximum(s.kw[:, 0], 1e-12), np.inf)
    for below_min in (False, True):
        for g in np.argsort(eff):
            if not s.converted[g]:
                continue
            avail = inter[g] if below_min else extra_of[g]
            if below_min:
                avail = np.where(in_event, avail, 0)
            drop = np.minimum(avail, np.ceil(np.maximum(excess, 0) / card_kw[g] - 1e-9).astype(np.int64))
            drop = np.where(excess > 1e-9, drop, 0)
            inter[g] -= drop
            extra_of[g] = np.minimum(extra_of[g], inter[g])
            excess = excess - drop * card_kw[g]
    return inter, extra_of


def _fit(cards: np.ndarray, card_kw: np.ndarray, headroom: np.ndarray, order: np.ndarray) -> np.ndarray:
    """`cards` cut to fit `headroom` kW (the first groups of `order` kept first); headroom is not changed."""
    left = headroom.copy()
    out = np.zeros_like(cards)
    for g in order:
        per = card_kw[g]
        fits = np.where(per > 0, np.floor(np.maximum(left, 0) / np.where(per > 0, per, 1) + 1e-9), cards[g])
        fits = np.where(np.isfinite(fits), fits, cards[g]).astype(np.int64)
        out[g] = np.minimum(cards[g], fits)
        left = left - out[g] * per
    return out


def _spread(tokens: np.ndarray, usable: np.ndarray, per_card: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The cards that run `tokens` in each interval: cheapest per token first, whole cards."""
    out = np.zeros_like(usable)
    left = tokens.copy()
    for g in order:
        per = per_card[g]
        need = np.where(per > 0, np.ceil(np.maximum(left, 0) / np.where(per > 0, per, 1) - 1e-9), 0)
        out[g] = np.minimum(usable[g], need.astype(np.int64))
        left = left - out[g] * per
    return out


def _backlog(s: _Site, capacity: np.ndarray, shift: bool) -> tuple[float, np.ndarray, int, int, float]:
    """Batch jobs, earliest deadline first, on `capacity` tokens per interval (only where batch pays,
    or everywhere for always-on). With `shift`, an interval runs only the work that cannot wait for
    intervals no dearer than now before its deadline (`_must_run`)."""
    T, step = len(s.p), s.prices.step_s
    starts = s.prices.starts
    end_of_span = int(starts[-1]) + step
    ran = np.zeros(T)
    revenue = missed = 0.0
    met = total = 0
    active: list[list[Any]] = []  # [job, tokens_left]
    nxt = 0
    day = max(1, int(86400 // step))
    horizon = int(DAY_AHEAD_HORIZON_S // step)
    p = s.p
    for i in range(T):
        t = int(starts[i])
        while nxt < len(s.jobs) and s.jobs[nxt].arrive < t + step:
            active.append([s.jobs[nxt], s.jobs[nxt].tokens])
            nxt += 1
        if active and capacity[i] > 0:
            active.sort(key=lambda e: e[0].deadline)
            left = sum(e[1] for e in active)
            run = min(capacity[i], left)
            if shift:
                run = min(run, _must_run(active, i, t + step, step, capacity, p, s.day_ahead, day, horizon))
            tokens = run
            for entry in active:
                if tokens <= 0:
                    break
                done = min(tokens, entry[1])
                entry[1] -= done
                tokens -= done
                revenue += done * entry[0].usd_per_m_tokens / 1e6
            ran[i] = run
        still = []
        for entry in active:
            counted = entry[0].deadline <= end_of_span
            if entry[1] <= 1e-6:
                met += counted
                total += counted
            elif t + step >= entry[0].deadline:
                total += counted
                missed += entry[1] if counted else 0.0
            else:
                still.append(entry)
        active = still
    return revenue, ran, met, total, missed


def _must_run(
    active: list[list[Any]],
    i: int,
    now_end: int,
    step: int,
    capacity: np.ndarray,
    p: np.ndarray,
    day_ahead: bool,
    day: int,
    horizon: int,
) -> float:
    """Tokens that cannot wait: the EDF backlog less what later intervals no dearer than now can
    take before each deadline (less the guard), counted at `BATCH_FUTURE_SHARE` of their capacity.
    Later intervals are read from the day-ahead curve when known (within `horizon`); otherwise
    from the same interval a day earlier (persistence: yesterday's price and capacity), so no
    price is read before it is known. Without a day of history nothing waits."""
    need = cumulative = 0.0
    T = len(p)
    for job, left in active:
        cumulative += left
        room = max(0, math.floor((job.deadline - DEADLINE_GUARD_S - now_end) / step))
        lo, hi = i + 1, min(T, i + 1 + room)
        future = 0.0
        if day_ahead and hi > lo:
            known = min(hi, i + 1 + horizon)
            future = float(capacity[lo:known][p[lo:known] <= p[i]].sum())
            lo = known
        if hi > lo and lo - day >= 0:
            past = slice(lo - day, min(hi - day, i))  # never later than now
            future += float(capacity[past][p[past] <= p[i]].sum())
        need = max(need, cumulative - BATCH_FUTURE_SHARE * future)
    return max(0.0, need)


def _books(s: _Site, name: str, r: _Roles, events: Sequence[Event], free_kw: np.ndarray | None) -> SiteRun:
    T, dt = len(s.p), s.dt_h
    pue = s.farm.pue
    i_kw, b_kw = _take(s.kw, r.i_lv), _take(s.kw, r.b_lv)
    i_kw = np.where(r.inter > 0, i_kw, 0.0)
    b_kw = np.where(r.batch > 0, b_kw, 0.0)
    role_kw = {
        "interactive": pue * (r.inter * i_kw).sum(axis=0),
        "batch": pue * (r.batch * b_kw).sum(axis=0),
        "mining": pue * (r.mine * s.mine_kw[:, None]).sum(axis=0),
    }
    power = role_kw["interactive"] + role_kw["batch"] + role_kw["mining"]
    role_rev = {
        "interactive": r.served_tps * s.prices.step_s * s.usd_tok,
        "batch": r.batch_tokens * (r.batch_rev / r.batch_tokens.sum() if r.batch_tokens.sum() > 0 else 0.0),
        "mining": (r.mine * s.mine_usd[:, None]).sum(axis=0) * dt,
    }
    kwh = power * dt
    contract = s.terms.contract
    t = Totals()
    if contract.kind == "fixed":
        bought_kw = contract.mw * 1000
        energy = contract.usd_per_mwh / 1000 * bought_kw * dt + np.maximum(0.0, power - bought_kw) * dt * s.p
        credit = np.maximum(0.0, bought_kw - power) * dt * s.p
    else:
        energy, credit = kwh * s.p, np.zeros(T)
    span_h = T * dt
    if len(s.peaks):
        t.transmission_usd = (
            s.terms.four_cp.usd_per_kw_year * float(power[s.peaks].mean()) * span_h / 8766  # type: ignore[union-attr]
        )
    in_event = np.zeros(T, dtype=bool) if r.limit_kw is None else np.isfinite(r.limit_kw)
    event_log = _events(s, events, power, free_kw, r) if name == "policy" and events else []
    t.demand_response_usd = sum(e["payment_usd"] for e in event_log)
    t.energy_kwh = float(kwh.sum())
    t.resale_usd = float(credit.sum())
    t.energy_cost_usd = float(energy.sum()) + t.transmission_usd
    t.power_credit_usd = t.resale_usd + t.demand_response_usd
    t.interactive_revenue_usd = float(role_rev["interactive"].sum())
    t.batch_revenue_usd = r.batch_rev
    t.token_revenue_usd = t.interactive_revenue_usd + t.batch_revenue_usd
    t.mining_revenue_usd = float(role_rev["mining"].sum())
    ai_cards = int((s.count * s.converted).sum())
    staff = s.farm.staff_usd_per_gpu_month
    t.fixed_cost_usd = (
        staff * ai_cards * span_h / 24 / DAYS_PER_MONTH
        if name in ("policy", "always_on", "ai_curtailed")
        else 0.0
    )
    t.net_usd = (
        t.token_revenue_usd + t.mining_revenue_usd + t.power_credit_usd - t.energy_cost_usd - t.fixed_cost_usd
    )
    t.batch_deadlines_met, t.batch_deadlines_total = r.met, r.total
    t.batch_tokens_missed = r.missed_tokens
    replicas = r.inter.sum(axis=0)
    short = replicas < s.min_replicas
    above = s.c > s.voll_kwh if name == "policy" else np.zeros(T, dtype=bool)
    minutes = s.prices.step_s / 60
    t.slo_minutes_lost = float((short & ~in_event & ~above).sum() * minutes)
    t.slo_minutes_lost_in_events = float((short & in_event).sum() * minutes)
    t.slo_minutes_above_ceiling = float((short & above & ~in_event).sum() * minutes)
    t.interactive_tokens_unserved = float(((s.demand_tps - r.served_tps) * s.prices.step_s).sum())
    batch_cards, mining_cards = r.batch.sum(axis=0), r.mine.sum(axis=0)
    working = replicas + batch_cards + mining_cards
    cards = int(s.count.sum())
    t.hours_off = float((working == 0).sum() * dt)
    t.hours = span_h
    card_hours = cards * span_h
    off_card_hours = float((cards - working).sum() * dt)
    t.curtailment_share = off_card_hours / card_hours if card_hours else 0.0
    ai = replicas + batch_cards
    cap_sum = (r.inter * np.where(r.inter > 0, _take(s.caps, r.i_lv), 0)).sum(axis=0) + (
        r.batch * np.where(r.batch > 0, _take(s.caps, r.b_lv), 0)
    ).sum(axis=0)
    high = s.p * 1000 >= HIGH_PRICE_USD_MWH
    revenue = role_rev["interactive"] + role_rev["batch"] + role_rev["mining"] + credit
    return SiteRun(
        totals=t,
        power_kw=power,
        replicas=replicas,
        batch_cards=batch_cards,
        mining_cards=mining_cards,
        off_cards=cards - working,
        caps_w=np.where(ai > 0, cap_sum / np.maximum(ai, 1), 0.0),
        in_event=in_event,
        batch_tokens=r.batch_tokens,
        roles=_role_metrics(s, r, role_kw, role_rev),
        high_price={
            "hours": float(high.sum() * dt),
            "energy_cost_usd": float(energy[high].sum()),
            "revenue_usd": float(revenue[high].sum()),
        },
        events=event_log,
        card_hours=card_hours,
        off_card_hours=off_card_hours,
    )


def _role_metrics(
    s: _Site, r: _Roles, role_kw: dict[str, np.ndarray], role_rev: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Per role: card-hours run, MWh, spend (at the hour's price) and revenue, in total and by band."""
    dt = s.dt_h
    usd_mwh = s.p * 1000
    counts = {"interactive": r.inter.sum(axis=0), "batch": r.batch.sum(axis=0), "mining": r.mine.sum(axis=0)}
    out: dict[str, Any] = {}
    for role in ROLES:
        kwh = role_kw[role] * dt
        row: dict[str, Any] = {
            "card_hours": round(float(counts[role].sum() * dt), 3),
            "mwh": round(float(kwh.sum() / 1000), 4),
            "spend_usd": round(float((kwh * s.p).sum()), 2),
            "revenue_usd": round(float(role_rev[role].sum()), 2),
            "by_band": {},
        }
        for band, lo, hi in BANDS:
            m = (usd_mwh >= lo) & (usd_mwh < hi)
            row["by_band"][band] = {
                "hours": round(float((m & (counts[role] > 0)).sum() * dt), 3),
                "mwh": round(float(kwh[m].sum() / 1000), 4),
                "spend_usd": round(float((kwh[m] * s.p[m]).sum()), 2),
                "revenue_usd": round(float(role_rev[role][m].sum()), 2),
            }
        out[role] = row
    return out


def _event_limits(s: _Site, events: Sequence[Event], free_kw: np.ndarray) -> np.ndarray | None:
    starts = s.prices.starts
    limit = np.full(len(starts), np.inf)
    any_event = False
    for e in events:
        if e.site != s.farm.site:
            continue
        m = (starts >= e.start_ts) & (starts < e.end_ts)
        if not m.any():
            continue
        any_event = True
        target = (
            np.full(m.sum(), e.target_kw)
            if e.target_kw is not None
            else np.maximum(0.0, free_kw[m] - (e.shed_kw or 0.0))
        )
        limit[m] = np.minimum(limit[m], target)
    return limit if any_event else None


def _events(
    s: _Site, events: Sequence[Event], power: np.ndarray, free_kw: np.ndarray | None, r: _Roles
) -> list[dict[str, Any]]:
    starts, dt = s.prices.starts, s.dt_h
    free_kw = power if free_kw is None else free_kw
    dr = s.terms.demand_response
    out = []
    for e in events:
        m = (starts >= e.start_ts) & (starts < e.end_ts)
        if e.site != s.farm.site or not m.any():
            continue
        shed = np.maximum(0.0, free_kw[m] - power[m])
        target = r.limit_kw[m] if r.limit_kw is not None else np.full(m.sum(), np.inf)
        over = int((power[m] > target + 1e-6).sum())
        kwh = float(shed.sum() * dt)
        out.append(
            {
                "site": e.site,
                "start": e.start.isoformat(),
                "end": e.end.isoformat(),
                "shed_kw_asked": e.shed_kw,
                "target_kw": e.target_kw,
                "kwh_avoided": round(kwh, 3),
                "max_kw_shed": round(float(shed.max(initial=0.0)), 3),
                "intervals": int(m.sum()),
                "intervals_over_target": over,
                "payment_usd": (dr.usd_per_event if over == 0 else 0.0) + dr.usd_per_mwh_shed * kwh / 1000,
            }
        )
    return out


def simulate_site(
    farm: SiteFarm,
    prices: PriceSeries,
    demand: Demand,
    events: Sequence[Event] = (),
    strategy: str = "policy",
    day_ahead: bool = False,
    terms: PowerTerms | None = None,
) -> SiteRun:
    s = _prepare(farm, prices, demand, terms or PowerTerms(), day_ahead)
    return _run(s, strategy, events)


def _run(s: _Site, strategy: str, events: Sequence[Event]) -> SiteRun:
    if not len(s.p):
        raise ValueError("an empty price series")
    roles = _strategy(s, strategy)
    free_kw = None
    if strategy == "policy" and events:
        free = _books(s, strategy, roles, (), None)
        free_kw = free.power_kw
        limit = _event_limits(s, events, free_kw)
        if limit is not None:
            roles = _strategy(s, strategy, limit)
    return _books(s, strategy, roles, events if strategy == "policy" else (), free_kw)


@dataclass
class Simulation:
    runs: dict[str, dict[str, SiteRun]]  # strategy -> site -> run
    prices: dict[str, PriceSeries]
    farm: Farm
    demand: Demand
    events: list[Event]
    seconds: float
    terms: PowerTerms = field(default_factory=PowerTerms)
    ceilings: dict[str, float] = field(default_factory=dict)  # site -> the SLO ceiling, $/MWh

    def totals(self, strategy: str) -> Totals:
        out = Totals()
        runs = list(self.runs[strategy].values())
        for run in runs:
            out.add(run.totals)
        out.hours = max((r.totals.hours for r in runs), default=0.0)
        # hours with every site off at once
        if runs and all(len(r.power_kw) == len(runs[0].power_kw) for r in runs):
            working = sum(r.replicas + r.batch_cards + r.mining_cards for r in runs)
            out.hours_off = float((working == 0).sum()) * runs[0].totals.hours / max(len(working), 1)
        card_hours = sum(r.card_hours for r in runs)
        out.curtailment_share = sum(r.off_card_hours for r in runs) / card_hours if card_hours else 0.0
        return out

    def best_baseline(self) -> str:
        names = [n for n in BASELINES if n in self.runs]
        return max(names, key=lambda n: self.totals(n).net_usd)

    def to_json(self, with_intervals: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.runs:
            row = self.totals(name).as_dict()
            row["high_price_hours"] = _sum_high(self.runs[name].values())
            row["roles"] = _sum_roles([r.roles for r in self.runs[name].values()])
            out[name] = row
        if "policy" in self.runs and any(n in self.runs for n in BASELINES):
            best = self.best_baseline()
            out["best_baseline"] = best
            margin = out["policy"]["net_usd"] - out[best]["net_usd"]
            out["policy_margin_usd"] = round(float(margin), 2)
            out["policy_loses"] = bool(margin < -1e-6)
            out["high_price_hours"] = out["policy"]["high_price_hours"]
        out["events"] = [e for run in self.runs.get("policy", {}).values() for e in run.events]
        out["inputs"] = {
            "prices": {site: s.summary() for site, s in self.prices.items()},
            "farm": self.farm.describe(),
            "demand": self.demand.model_dump(mode="json"),
            "events": [e.model_dump(mode="json") for e in self.events],
            "power": self.terms.model_dump(mode="json"),
            "slo_ceiling_usd_per_mwh": {
                k: (round(float(v), 2) if math.isfinite(v) else None) for k, v in self.ceilings.items()
            },
        }
        out["seconds"] = round(self.seconds, 3)
        if with_intervals:
            out["intervals"] = self.intervals()
        return out

    def intervals(self) -> list[dict[str, Any]]:
        rows = []
        for site, run in self.runs["policy"].items():
            series = self.prices[site]
            others = {n: self.runs[n][site].power_kw for n in self.runs if n != "policy"}
            for i in range(len(series)):
                row = {
                    "site": site,
                    "start": int(series.starts[i]),
                    "usd_per_mwh": round(float(series.usd_per_kwh[i]) * 1000, 3),
                    "policy_kw": round(float(run.power_kw[i]), 3),
                }
                row.update({f"{n}_kw": round(float(kw[i]), 3) for n, kw in others.items()})
                row.update(
                    {
                        "replicas": int(run.replicas[i]),
                        "batch_cards": int(run.batch_cards[i]),
                        "mining_cards": int(run.mining_cards[i]),
                        "off_cards": int(run.off_cards[i]),
                        "mean_cap_w": round(float(run.caps_w[i]), 1),
                        "event": bool(run.in_event[i]),
                    }
                )
                rows.append(row)
        return rows


def _sum_high(runs: Any) -> dict[str, float]:
    out = {"hours": 0.0, "energy_cost_usd": 0.0, "revenue_usd": 0.0}
    for run in runs:
        out["hours"] = max(out["hours"], run.high_price["hours"])
        out["energy_cost_usd"] += run.high_price["energy_cost_usd"]
        out["revenue_usd"] += run.high_price["revenue_usd"]
    return {k: round(v, 2) for k, v in out.items()}


def _sum_roles(per_site: list[dict[str, Any]]) -> dict[str, Any]:
    if len(per_site) == 1:
        return per_site[0]
    out: dict[str, Any] = {}
    for roles in per_site:
        for role, row in roles.items():
            acc = out.setdefault(
                role, {"card_hours": 0.0, "mwh": 0.0, "spend_usd": 0.0, "revenue_usd": 0.0, "by_band": {}}
            )
            for k in ("card_hours", "mwh", "spend_usd", "revenue_usd"):
                acc[k] = round(acc[k] + row[k], 4)
            for band, b in row["by_band"].items():
                ab = acc["by_band"].setdefault(
                    band, {"hours": 0.0, "mwh": 0.0, "spend_usd": 0.0, "revenue_usd": 0.0}
                )
                for k in ab:
                    ab[k] = round(ab[k] + b[k], 4)
    return out


def simulate(
    farm: Farm,
    prices: dict[str, PriceSeries],
    demand: Demand,
    events: Sequence[Event] = (),
    day_ahead: bool = False,
    strategies: Sequence[str] = STRATEGIES,
    terms: PowerTerms | None = None,
) -> Simulation:
    """Every site with a price series, under each strategy."""
    began = time.perf_counter()
    terms = terms or PowerTerms()
    runs: dict[str, dict[str, SiteRun]] = {name: {} for name in strategies}
    ceilings = {}
    for site, series in prices.items():
        prepared = _prepare(farm.site(site), series, demand, terms, day_ahead)
        ceilings[site] = prepared.voll_kwh * 1000
        for name in strategies:
            runs[name][site] = _run(prepared, name, events)
    return Simulation(runs, prices, farm, demand, list(events), time.perf_counter() - began, terms, ceilings)


def span_days(series: PriceSeries) -> float:
    return (series.end - series.start) / 86400 if len(series) else 0.0


__all__ = [
    "BANDS",
    "BASELINES",
    "HIGH_PRICE_USD_MWH",
    "STRATEGIES",
    "TOTAL_KEYS",
    "Simulation",
    "SiteRun",
    "Totals",
    "simulate",
    "simulate_site",
    "span_days",
]
