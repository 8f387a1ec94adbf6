"""The energy policy: what every GPU of one site does during one interval. Pure, deterministic.

Inputs (per site, per interval of 5, 15 or 60 minutes): the price p ($/kWh, times the site's PUE
so cooling is paid too), the day-ahead prices of the following intervals when known, the card
groups (one GPU model at the site: converted cards serve AI, the rest still mine), the
interactive deployments (minimum replicas = their SLO, demand in tokens/s, $ per million
tokens), the batch backlog (tokens left, deadline, $ per million tokens), the site's kW cap and
a demand-response limit when an event is on.

Every card is in exactly one role: interactive (a replica of a deployment), batch, mining or
off (idle, drawing `idle_w`). AI roles run at a power cap chosen from `CAP_FRACTIONS` of the
card's TDP; throughput and draw at a cap come from the estimator
(`rigshift.estimate.power`). A card's value per hour in a role at cap c is

    margin(c) = tokens_per_s(c) · 3600 · usd_per_token − (draw(c) + host_share) / 1000 · p

(mining: `mining_usd_per_hour − (mining_w + host_share)/1000 · p`). The rule, in order:

1. Interactive. Cap: the allowed cap with the best margin; outside an event a cap may not go
   below `INTERACTIVE_CAP_FLOOR` · TDP (prompt latency). Replicas of deployment d:
   `max(min_d, ceil(demand_d / tokens_per_s))`, where the part above `min_d` is added only if
   its margin is positive (and never above `max_replicas`, the replicas planned, at run time).
   Cards are taken from the most efficient group first (tokens per W).
2. Batch on the converted cards left over. Backlog jobs are taken earliest deadline first.
   The work that must run now, M, is the largest over jobs j of
       Σ_{k ≤ j} tokens_k − C_future · n_j
   where C_future is the batch capacity of one later interval (today's free cards times
   `BATCH_FUTURE_SHARE`, a margin for interactive peaks and events) and n_j counts the later
   intervals that start before job j's deadline minus `DEADLINE_GUARD_S` and are not known,
   from the day-ahead curve, to be dearer than now. A group with a positive batch margin runs
   as many cards as the backlog can use (most profitable group first); a group at a loss runs
   only the cards needed for M after that (least loss per token first). So batch never runs
   at a loss while its deadline allows waiting for a price that is no worse.
   Batch also takes the spare capacity of the interactive replicas (their capacity above their
   demand, Σ_d max(0, capacity_d − demand_d)): at run time batch lines fill free slots of running
   replicas. It is used before any card is given to batch, under the same rule: all of it when
   a token earns more than it costs there, only the tokens due now (M) otherwise. A token on a
   spare slot costs the serving card's draw above idle per token, `(draw − idle_w) / tokens_per_s`
   (the dearest serving group's), since filling slots raises a card's draw toward its serving
   draw; the accounting still charges a serving card its full draw whatever its load, so spare
   slots add no power here. During an event, and whenever step 4 has to shed, it is off.
3. Mining cards mine when their margin is positive, else they are off.
4. The limit L = min(site kW cap, event limit). While the site draws more than L
   (PUE · Σ card draw + host share), cards are shed in this order: mining (lowest margin per kW
   first), batch (fewest tokens per kW first), interactive replicas above their minimum, then
   interactive caps lowered to the floor (during an event: to the lowest level); and only
   during an event, replicas below their minimum. Outside an event the minimum replicas at the floor cap always fit, because
   `check_feasible` refuses a site where they do not.

At run time (`decide(..., run_time=True)`), batch cards are limited to the planned replicas the
interactive side leaves free (`max_replicas` per deployment): batch lines run on replicas, so a
card without one idles, and a site with no planned replica gives batch no card at all.

Simplifications, stated: a replica is one card; a card that is off draws `idle_w` and no host
share; batch work is priced at the cheapest job's price (conservative for "never at a loss").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.errors import InputError, Problem
from rigshift.estimate.power import serving_power_w, speed_factor_at_power_limit
from rigshift.units import usd_for_tokens

CAP_FRACTIONS = (1.0, 0.85, 0.7, 0.55)
INTERACTIVE_CAP_FLOOR = 0.7
BATCH_FUTURE_SHARE = 0.75
DEADLINE_GUARD_S = 3600.0
Role = Literal["interactive", "batch", "mining", "off"]


@dataclass(frozen=True)
class CapLevel:
    cap_w: float
    tokens_per_s: float  # one card, this group's serving model, at this cap
    draw_w: float  # the card's draw while serving at this cap


@dataclass(frozen=True)
class CardGroup:
    """Cards of one GPU model at one site, all in the same situation."""

    id: str
    gpu: str  # catalog key
    count: int
    converted: bool  # True: serves AI (interactive or batch); False: still mining
    tdp_w: float
    idle_w: float = 15.0
    host_w: float = 10.0  # the card's share of its rig's host power while it works
    levels: tuple[CapLevel, ...] = ()  # highest cap first; empty when it serves no model
    mining_usd_per_hour: float = 0.0
    mining_w: float = 0.0
    # Derived once (the policy runs every interval of a year): tokens per hour and kW per level.
    tokens_per_hour: tuple[float, ...] = field(init=False, repr=False, compare=False)
    kw: tuple[float, ...] = field(init=False, repr=False, compare=False)
    caps_w: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens_per_hour", tuple(lv.tokens_per_s * 3600 for lv in self.levels))
        object.__setattr__(self, "kw", tuple((lv.draw_w + self.host_w) / 1000 for lv in self.levels))
        object.__setattr__(self, "caps_w", tuple(lv.cap_w for lv in self.levels))


def cap_levels(spec: GpuSpec, tokens_per_s_at_tdp: float) -> tuple[CapLevel, ...]:
    """Throughput and draw at each cap of `CAP_FRACTIONS`, from the estimator's power model."""
    levels = []
    for fraction in CAP_FRACTIONS:
        cap = spec.tdp_w * fraction
        levels.append(
            CapLevel(
                cap_w=cap,
                tokens_per_s=tokens_per_s_at_tdp * speed_factor_at_power_limit(spec, cap, "decode"),
                draw_w=serving_power_w(spec, cap, "decode"),
            )
        )
    return tuple(levels)


@dataclass(frozen=True)
class InteractiveNeed:
    deployment: str
    min_replicas: int
    demand_tokens_per_s: float
    usd_per_m_tokens: float
    groups: tuple[str, ...] = ()  # groups it may run on; empty = every converted group
    max_replicas: int | None = None  # at run time: the replicas planned (no more can start)


@dataclass(frozen=True)
class BatchJob:
    id: str
    tokens_left: float
    deadline: float  # unix seconds
    usd_per_m_tokens: float


@dataclass(frozen=True)
class SiteInterval:
    site: str
    start: float  # unix seconds
    step_s: int
    usd_per_kwh: float
    pue: float = 1.0
    cap_kw: float | None = None
    event_kw: float | None = None  # a demand-response limit in force now
    day_ahead: tuple[float, ...] = ()  # $/kWh of the following intervals, when published


class GroupDecision(NamedTuple):
    group: str
    interactive: int = 0
    interactive_cap_w: float = 0.0
    batch: int = 0
    batch_cap_w: float = 0.0
    mining: int = 0
    off: int = 0
    replicas: tuple[tuple[str, int], ...] = ()  # deployment -> interactive cards of this group


@dataclass(frozen=True, slots=True)
class SiteDecision:
    site: str
    start: float
    usd_per_kwh: float
    limit_kw: float | None
    power_kw: float  # at the meter (PUE included)
    groups: tuple[GroupDecision, ...]
    replicas: Mapping[str, int]
    interactive_tokens_per_s: Mapping[str, float]
    batch_tokens_per_s: float  # dedicated batch cards plus the spare slots below
    batch_due_tokens: float  # tokens that had to run now for the deadlines (step 2's M)
    in_event: bool
    notes: tuple[str, ...] = ()
    interactive_cards: int = 0
    batch_cards: int = 0
    mining_cards: int = 0
    off_cards: int = 0
    mean_ai_cap_w: float = 0.0  # over the cards serving or running batch
    mining_usd_per_hour: float = 0.0  # what the mining cards earn at this decision
    batch_spare_tokens_per_s: float = 0.0  # batch on free slots of the interactive replicas

    @property
    def batch_on(self) -> bool:
        return self.batch_tokens_per_s > 0

    @property
    def mining_on(self) -> bool:
        return any(g.mining for g in self.groups)


class _Alloc:
    """One group's cards while the rule runs (mutable scratch; never leaves this module)."""

    __slots__ = ("b_level", "batch", "group", "i_level", "interactive", "mining", "n_int")

    def __init__(self, group: CardGroup, mining: int = 0) -> None:
        self.group = group
        self.i_level = 0
        self.b_level = 0
        self.interactive: dict[str, int] = {}
        self.n_int = 0
        self.batch = 0
        self.mining = mining

    @property
    def busy(self) -> int:
        return self.n_int + self.batch + self.mining

    @property
    def free(self) -> int:
        return self.group.count - self.n_int - self.batch - self.mining

    def serve(self, deployment: str, n: int) -> None:
        self.interactive[deployment] = self.interactive.get(deployment, 0) + n
        self.n_int += n
        if not self.interactive[deployment]:
            del self.interactive[deployment]


def _margin(level: CapLevel, host_w: float, usd_per_token: float, price: float) -> float:
    return level.tokens_per_s * 3600 * usd_per_token - (level.draw_w + host_w) / 1000 * price


def _best_level(group: CardGroup, usd_per_token: float, price: float, floor_w: float) -> int:
    """The allowed cap (at or above `floor_w`) with the best margin; the higher cap on a tie."""
    best, best_margin = 0, -math.inf
    for i, (tph, kw, cap) in enumerate(zip(group.tokens_per_hour, group.kw, group.caps_w, strict=True)):
        if cap < floor_w - 1e-9 and i:
            break
        margin = tph * usd_per_token - kw * price
        if margin > best_margin + 1e-12:
            best, best_margin = i, margin
    return best


def _mining_margin(group: CardGroup, price: float) -> float:
    return group.mining_usd_per_hour - (group.mining_w + group.host_w) / 1000 * price


def must_run_tokens(
    jobs: Sequence[BatchJob],
    now_end: float,
    step_s: int,
    future_capacity: float,
    later_dearer: Sequence[bool],
) -> float:
    """Tokens that must run in this interval so every job still meets its deadline (EDF).

    `later_dearer[k]` says the (k+1)-th next interval is known to cost more than now; such
    intervals are not counted as room to wait in.
    """
    need, cumulative = 0.0, 0.0
    for job in sorted(jobs, key=lambda j: j.deadline):
        cumulative += job.tokens_left
        room = max(0, math.floor((job.deadline - DEADLINE_GUARD_S - now_end) / step_s))
        dearer = sum(1 for flag in later_dearer[:room] if flag)
        need = max(need, cumulative - future_capacity * (room - dearer))
    return max(0.0, need)


def check_feasible(
    groups: Sequence[CardGroup], needs: Sequence[InteractiveNeed], pue: float, cap_kw: float | None
) -> None:
    """Refuse a site whose minimum interactive replicas (at the floor cap) plus idle cards exceed its cap."""
    converted = [g for g in groups if g.converted and g.levels]
    total_min = sum(n.min_replicas for n in needs)
    if total_min > sum(g.count for g in converted):
        raise InputError(
            Problem(
                f"the deployments need {total_min} interactive replicas, the site has "
                f"{sum(g.count for g in converted)} cards that serve",
                field="min_replicas",
            )
        )
    if cap_kw is None:
        return
    # Worst case: the minimum replicas on the hungriest cards at the floor cap, the rest idle.
    floor_draws = sorted(
        (
            min(lv.draw_w for lv in g.levels if lv.cap_w >= INTERACTIVE_CAP_FLOOR * g.tdp_w - 1e-9)
            + g.host_w
            - g.idle_w
            for g in converted
            for _ in range(g.count)
        ),
        reverse=True,
    )
    idle = sum(g.idle_w * g.count for g in groups)
    floor_kw = pue * (idle + sum(floor_draws[:total_min])) / 1000
    if floor_kw > cap_kw:
        raise InputError(
            Problem(
                f"the site's cap of {cap_kw:g} kW is below what the minimum interactive replicas and idle "
                f"cards draw ({floor_kw:.1f} kW)",
                field="cap_kw",
                expected="a higher cap or fewer minimum replicas",
            )
        )


def decide(
    groups: Sequence[CardGroup],
    interval: SiteInterval,
    interactive: Sequence[InteractiveNeed] = (),
    batch: Sequence[BatchJob] = (),
    detail: bool = True,
    run_time: bool = False,
) -> SiteDecision:
    """One interval, one site: every card's role and cap (the rule is in the module docstring).

    `detail=False` leaves out the per-group breakdown (`groups`), for callers that only keep the
    site's totals (the simulator over a year); the decision itself is the same. `run_time`: the
    `interactive` needs are the plan's deployments (each with `max_replicas`), and batch can run
    only on their replicas; without it (the simulator) every free card can take batch."""
    price = interval.usd_per_kwh * interval.pue
    in_event = interval.event_kw is not None
    allocs = {g.id: _Alloc(g) for g in groups}
    serving = [a for a in allocs.values() if a.group.converted and a.group.levels]
    notes: list[str] = []

    # 1. interactive: one cap per group (priced at the dearest deployment), minimums first
    if interactive:
        usd_best = usd_for_tokens(1, max(n.usd_per_m_tokens for n in interactive))
        for a in serving:
            floor = 0.0 if in_event else INTERACTIVE_CAP_FLOOR * a.group.tdp_w
            a.i_level = _best_level(a.group, usd_best, price, floor)
        order = sorted(
            serving, key=lambda a: -a.group.levels[a.i_level].tokens_per_s / a.group.levels[a.i_level].draw_w
        )
    served: dict[str, float] = {}
    for need in interactive:  # the SLO minimum, whatever the price
        placed, tps = 0, 0.0
        for a in order:
            if need.groups and a.group.id not in need.groups:
                continue
            take = min(a.free, need.min_replicas - placed)
            if take > 0:
                a.serve(need.deployment, take)
                placed += take
                tps += take * a.group.levels[a.i_level].tokens_per_s
        served[need.deployment] = tps
        if placed < need.min_replicas:
            notes.append(f"{need.deployment}: only {placed} of {need.min_replicas} minimum replicas fit")
    for need in interactive:  # more replicas while demand is unserved and a replica earns its power
        usd_tok = usd_for_tokens(1, need.usd_per_m_tokens)
        for a in order:
            if need.groups and a.group.id not in need.groups:
                continue
            level = a.group.levels[a.i_level]
            if (
                served[need.deployment] >= need.demand_tokens_per_s
                or _margin(level, a.group.host_w, usd_tok, price) <= 0
            ):
                continue
            take = min(
                a.free, math.ceil((need.demand_tokens_per_s - served[need.deployment]) / level.tokens_per_s)
            )
            if need.max_replicas is not None:
                placed = _replicas_of(need.deployment, order)
                take = min(take, need.max_replicas - placed)
            if take > 0:
                a.serve(need.deployment, take)
                served[need.deployment] += take * level.tokens_per_s

    # 2. batch: first the interactive replicas' spare slots (outside an event), then free cards
    must = due = spare_used = 0.0
    jobs = [j for j in batch if j.tokens_left > 0]
    spare = 0.0
    if not in_event:
        spare = sum(max(0.0, served[n.deployment] - n.demand_tokens_per_s) for n in interactive)
    if jobs:
        usd_tok = usd_for_tokens(1, min(j.usd_per_m_tokens for j in jobs))
        for a in serving:
            a.b_level = _best_level(a.group, usd_tok, price, 0.0)
        per_card = {a.group.id: a.group.levels[a.b_level].tokens_per_s * interval.step_s for a in serving}
        # At run time batch lines run on replicas, so only cards with a planned replica the
        # interactive side leaves free can take batch (`max_replicas`); a card without one idles.
        budget = _batch_card_budget(interactive, allocs.values()) if run_time else None
        capacity_now = _free_capacity(serving, per_card, budget) + spare * interval.step_s
        dearer = [p * interval.pue > price + 1e-12 for p in interval.day_ahead]
        must = must_run_tokens(
            jobs, interval.start + interval.step_s, interval.step_s, capacity_now * BATCH_FUTURE_SHARE, dearer
        )
        due = must
        left = sum(j.tokens_left for j in jobs)
        spare_cost = max(
            (
                (lv.draw_w - a.group.idle_w) / 1000 * price / (lv.tokens_per_s * 3600)
                for a in serving
                if a.n_int and (lv := a.group.levels[a.i_level]).tokens_per_s > 0
            ),
            default=math.inf,
        )
        spare_used = min(spare * interval.step_s, left if usd_tok > spare_cost else max(0.0, must))
        left -= spare_used
        must -= spare_used
        by_margin = sorted(
            serving,
            key=lambda a: (
                -_margin(a.group.levels[a.b_level], a.group.host_w, usd_tok, price)
                / max(per_card[a.group.id], 1e-9)
            ),
        )
        for a in by_margin:
            if left <= 0 or a.free <= 0 or per_card[a.group.id] <= 0:
                continue
            profitable = _margin(a.group.levels[a.b_level], a.group.host_w, usd_tok, price) > 0
            target = left if profitable else min(left, must)
            if target <= 0:
                continue
            take = min(a.free, math.ceil(target / per_card[a.group.id] - 1e-9))
            if budget is not None:
                take = min(take, budget)
                budget -= take
            a.batch = take
            left -= take * per_card[a.group.id]
            must -= take * per_card[a.group.id]
        if must > 0:
            notes.append(f"batch: {must:.3g} tokens due now do not fit on the free cards")

    # 3. mining
    for a in allocs.values():
        if not a.group.converted and _mining_margin(a.group, price) > 0:
            a.mining = a.group.count

    # 4. the limit
    limits = [x for x in (interval.cap_kw, interval.event_kw) if x is not None]
    limit = min(limits) if limits else None
    if limit is not None and _shed(
        list(allocs.values()), interval, price, limit, in_event, interactive, notes
    ):
        spare_used = 0.0

    return _decision(
        list(allocs.values()),
        interval,
        limit,
        in_event,
        interactive,
        due,
        notes,
        detail,
        spare_used / interval.step_s,
    )


def _replicas_of(deployment: str, allocs: Iterable[_Alloc]) -> int:
    """Cards serving `deployment` so far, over every group."""
    return sum(a.interactive.get(deployment, 0) for a in allocs)


def _batch_card_budget(needs: Sequence[InteractiveNeed], allocs: Iterable[_Alloc]) -> int:
    """Cards batch may have at run time: the planned replicas the interactive side does not use
    (0 with none planned). A need without `max_replicas` leaves none: at run time each has one."""
    allocs = list(allocs)
    placed = {n.deployment: _replicas_of(n.deployment, allocs) for n in needs}
    return sum(max(0, (n.max_replicas or 0) - placed[n.deployment]) for n in needs)


def _free_capacity(serving: Sequence[_Alloc], per_card: Mapping[str, float], budget: int | None) -> float:
    """Tokens the free cards could run in one interval, the fastest first, at most `budget` cards."""
    capacity, left = 0.0, budget
    for a in sorted(serving, key=lambda a: -per_card[a.group.id]):
        n = a.free if left is None else min(a.free, left)
        capacity += n * per_card[a.group.id]
        if left is not None:
            left -= n
    return capacity


def _power_w(a: _Alloc) -> float:
    g = a.group
    w = 0.0
    if a.n_int:
        w += a.n_int * (g.levels[a.i_level].draw_w + g.host_w)
    if a.batch:
        w += a.batch * (g.levels[a.b_level].draw_w + g.host_w)
    w += a.mining * (g.mining_w + g.host_w)
    w += (g.count - a.n_int - a.batch - a.mining) * g.idle_w
    return w


def _shed(
    allocs: list[_Alloc],
    interval: SiteInterval,
    price: float,
    limit: float,
    in_event: bool,
    needs: Sequence[InteractiveNeed],
    notes: list[str],
) -> bool:
    """Bring the site under `limit`; True when anything had to be shed (the limit binds)."""
    pue = interval.pue
    total_w = [sum(_power_w(a) for a in allocs)]  # kept up to date as cards are shed

    def excess() -> float:
        return pue * total_w[0] / 1000 - limit

    def drop(a: _Alloc, per_card_w: float, available: int) -> int:
        saving_kw = pue * per_card_w / 1000
        if excess() <= 1e-9 or available <= 0 or saving_kw <= 0:
            return 0
        n = min(available, math.ceil(excess() / saving_kw - 1e-9))
        total_w[0] -= n * per_card_w
        return n

    if excess() <= 1e-9:
        return False
    # mining, lowest margin per kW first
    for a in sorted(
        (a for a in allocs if a.mining),
        key=lambda a: _mining_margin(a.group, price) / (a.group.mining_w + a.group.host_w),
    ):
        a.mining -= drop(a, a.group.mining_w + a.group.host_w - a.group.idle_w, a.mining)
    # batch, fewest tokens per kW first
    for a in sorted(
        (a for a in allocs if a.batch),
        key=lambda a: (
            a.group.levels[a.b_level].tokens_per_s / (a.group.levels[a.b_level].draw_w + a.group.host_w)
        ),
    ):
        lv = a.group.levels[a.b_level]
        a.batch -= drop(a, lv.draw_w + a.group.host_w - a.group.idle_w, a.batch)
    if excess() <= 1e-9:
        return True
    minimum = {n.deployment: n.min_replicas for n in needs}

    def shed_replicas(below_minimum: bool) -> None:
        for a in sorted(allocs, key=lambda a: _efficiency(a)):
            if not a.interactive:
                continue
            lv = a.group.levels[a.i_level]
            for dep in sorted(a.interactive):
                total = _replicas_of(dep, allocs)
                spare = (
                    a.interactive[dep]
                    if below_minimum
                    else min(a.interactive[dep], total - minimum.get(dep, 0))
                )
                a.serve(dep, -drop(a, lv.draw_w + a.group.host_w - a.group.idle_w, spare))

    shed_replicas(below_minimum=False)
    if excess() <= 1e-9:
        return True
    for a in allocs:  # lower the caps of what still serves: to the floor, or to the lowest in an event
        if a.n_int and a.group.levels:
            floor = 0.0 if in_event else INTERACTIVE_CAP_FLOOR * a.group.tdp_w
            lowest = max((i for i, cap in enumerate(a.group.caps_w) if cap >= floor - 1e-9), default=0)
            if lowest > a.i_level:
                before = _power_w(a)
                a.i_level = lowest
                total_w[0] += _power_w(a) - before
    if excess() <= 1e-9:
        return True
    if not in_event:
        notes.append(f"above the site cap by {excess():.1f} kW with only minimum replicas left")
        return True
    shed_replicas(below_minimum=True)
    if excess() > 1e-9:
        notes.append(f"event target missed by {excess():.1f} kW: idle cards alone draw that much")
    else:
        notes.append("event: interactive replicas below their minimum")
    return True


def _efficiency(a: _Alloc) -> float:
    if not a.group.levels:
        return 0.0
    lv = a.group.levels[a.i_level]
    return lv.tokens_per_s / (lv.draw_w + a.group.host_w)


def _decision(
    allocs: list[_Alloc],
    interval: SiteInterval,
    limit: float | None,
    in_event: bool,
    needs: Sequence[InteractiveNeed],
    due: float,
    notes: list[str],
    detail: bool = True,
    spare_batch_tps: float = 0.0,
) -> SiteDecision:
    replicas: dict[str, int] = {n.deployment: 0 for n in needs}
    capacity: dict[str, float] = {n.deployment: 0.0 for n in needs}
    batch_tps = watts = 0.0
    counts = [0, 0, 0, 0]  # interactive, batch, mining, off
    cap_sum = mining_usd = 0.0
    out = []
    for a in allocs:
        g = a.group
        off = g.count - a.n_int - a.batch - a.mining
        i_cap = b_cap = 0.0
        if a.n_int:
            lv = g.levels[a.i_level]
            i_cap = lv.cap_w
            for dep, n in a.interactive.items():
                replicas[dep] = replicas.get(dep, 0) + n
                capacity[dep] = capacity.get(dep, 0.0) + n * lv.tokens_per_s
            watts += a.n_int * (lv.draw_w + g.host_w)
        if a.batch:
            lv = g.levels[a.b_level]
            b_cap = lv.cap_w
            batch_tps += a.batch * lv.tokens_per_s
            watts += a.batch * (lv.draw_w + g.host_w)
        watts += a.mining * (g.mining_w + g.host_w) + off * g.idle_w
        counts[0] += a.n_int
        counts[1] += a.batch
        counts[2] += a.mining
        counts[3] += off
        cap_sum += a.n_int * i_cap + a.batch * b_cap
        mining_usd += a.mining * g.mining_usd_per_hour
        if not detail:
            continue
        out.append(
            GroupDecision(
                g.id,
                a.n_int,
                i_cap,
                a.batch,
                b_cap,
                a.mining,
                off,
                tuple(sorted(a.interactive.items())) if a.n_int else (),
            )
        )
    ai = counts[0] + counts[1]
    return SiteDecision(
        site=interval.site,
        start=interval.start,
        usd_per_kwh=interval.usd_per_kwh,
        limit_kw=limit,
        power_kw=interval.pue * watts / 1000,
        groups=tuple(out),
        replicas=replicas,
        interactive_tokens_per_s=capacity,
        batch_tokens_per_s=batch_tps + spare_batch_tps,
        batch_due_tokens=due,
        in_event=in_event,
        notes=tuple(notes),
        interactive_cards=counts[0],
        batch_cards=counts[1],
        mining_cards=counts[2],
        off_cards=counts[3],
        mean_ai_cap_w=cap_sum / ai if ai else 0.0,
        mining_usd_per_hour=mining_usd,
        batch_spare_tokens_per_s=spare_batch_tps,
    )


@dataclass(frozen=True)
class GpuDecision:
    gpu: str  # "rig/index" or a uuid: whatever the caller keys GPUs by
    group: str
    role: Role
    power_cap_w: float | None  # None: leave the card's limit alone (mining or off)
    deployment: str | None = None


def per_gpu(
    decision: SiteDecision,
    gpus_by_group: Mapping[str, Sequence[str]],
    current: Mapping[str, Role] | None = None,
) -> list[GpuDecision]:
    """The group counts of `decision` spread over named GPUs, keeping each card's current role
    where the counts allow (fewer replica moves)."""
    current = current or {}
    result: list[GpuDecision] = []
    for gd in decision.groups:
        names = list(gpus_by_group.get(gd.group, ()))
        slots: list[tuple[Role, float | None, str | None]] = []
        for dep, n in gd.replicas:
            slots += [("interactive", gd.interactive_cap_w, dep)] * n
        slots += [("batch", gd.batch_cap_w, None)] * gd.batch
        slots += [("mining", None, None)] * gd.mining
        slots += [("off", None, None)] * gd.off
        slots = slots[: len(names)]
        # Keep roles first: a GPU whose current role still has a slot keeps it.
        assigned: dict[str, tuple[Role, float | None, str | None]] = {}
        remaining = list(slots)
        for name in names:
            role = current.get(name)
            match = next((s for s in remaining if s[0] == role), None)
            if match is not None:
                assigned[name] = match
                remaining.remove(match)
        for name in names:
            if name not in assigned and remaining:
                assigned[name] = remaining.pop(0)
        for name in names:
            slot = assigned.get(name, ("off", None, None))
            result.append(GpuDecision(name, gd.group, slot[0], slot[1], slot[2]))
    return result


# --- the two baselines `rigshift energy simulate` compares against --------------------------------


def always_on(
    groups: Sequence[CardGroup],
    interval: SiteInterval,
    interactive: Sequence[InteractiveNeed] = (),
    batch: Sequence[BatchJob] = (),
    detail: bool = True,
) -> SiteDecision:
    """Everything at full power whatever the price: replicas for the demand (at least the minimum),
    batch on their spare slots and then on every free converted card while there is work, every
    mining card mining. No cap, no event honoured."""
    allocs = {g.id: _Alloc(g) for g in groups}
    serving = [a for a in allocs.values() if a.group.converted and a.group.levels]
    serving.sort(key=lambda a: -a.group.levels[0].tokens_per_s / a.group.levels[0].draw_w)
    spare = 0.0
    for need in interactive:
        served, placed = 0.0, 0
        for a in serving:
            if not need.groups or a.group.id in need.groups:
                tps = a.group.levels[0].tokens_per_s
                want = max(
                    need.min_replicas - placed, math.ceil(max(0.0, need.demand_tokens_per_s - served) / tps)
                )
                take = min(a.free, want)
                if take > 0:
                    a.serve(need.deployment, take)
                    placed += take
                    served += take * tps
        spare += max(0.0, served - need.demand_tokens_per_s)
    left = sum(j.tokens_left for j in batch)
    spare_used = min(spare * interval.step_s, left)
    left -= spare_used
    for a in serving:
        per_card = a.group.levels[0].tokens_per_s * interval.step_s
        if left > 0 and a.free > 0:
            a.batch = min(a.free, math.ceil(left / per_card - 1e-9))
            left -= a.batch * per_card
    for a in allocs.values():
        if not a.group.converted and a.group.mining_w > 0:
            a.mining = a.group.count
    return _decision(
        list(allocs.values()),
        interval,
        None,
        False,
        interactive,
        0.0,
        [],
        detail,
        spare_used / interval.step_s,
    )


def mining_only(
    groups: Sequence[CardGroup],
    interval: SiteInterval,
    interactive: Sequence[InteractiveNeed] = (),
    batch: Sequence[BatchJob] = (),
    detail: bool = True,
) -> SiteDecision:
    """The farm as it was: every card that can mine mines, around the clock; nothing is served."""
    allocs = [_Alloc(g, g.count if g.mining_w > 0 else 0) for g in groups]
    return _decision(allocs, interval, None, False, interactive, 0.0, [], detail)


# --- 4CP: the peak-risk rule (no hindsight) -------------------------------------------------------

# ERCOT's four coincident peaks (one a month, June-September) have fallen between 15:00 and 18:00
# Central on weekdays (ERCOT's published 4CP intervals, https://www.ercot.com/mktinfo/data_agg/4cp).
PEAK_RISK_MONTHS = (6, 7, 8, 9)
PEAK_RISK_HOURS = (15, 18)  # local [from, to)
PEAK_RISK_QUANTILE = 0.9  # of the peak window's prices over the lookback
PEAK_RISK_LOOKBACK_DAYS = 14


def peak_risk(starts: Any, usd_per_kwh: Any, timezone: str = "America/Chicago") -> Any:
    """Which intervals may be a 4CP peak, from what is known at the time: a summer weekday, local
    15:00-18:00, at a price at or above the 90th percentile of the same window's prices over the
    previous 14 days (a hot afternoon's price rises with the load). Numpy arrays in and out."""
    import numpy as np

    from rigshift.energy.contracts import local_hours

    starts = np.asarray(starts, dtype=np.int64)
    prices = np.asarray(usd_per_kwh, dtype=float)
    hour, month, weekday = local_hours(starts, timezone)
    window = (hour >= PEAK_RISK_HOURS[0]) & (hour < PEAK_RISK_HOURS[1])
    season = np.isin(month, PEAK_RISK_MONTHS) & (weekday < 5) & window
    risk = np.zeros(len(starts), dtype=bool)
    if not season.any():
        return risk
    days = starts // 86400
    lookback = PEAK_RISK_LOOKBACK_DAYS
    for day in np.unique(days[season]):
        past = window & (days < day) & (days >= day - lookback)
        if not past.any():
            continue
        threshold = np.quantile(prices[past], PEAK_RISK_QUANTILE)
        today = season & (days == day)
        risk[today] = prices[today] >= threshold
    return risk
