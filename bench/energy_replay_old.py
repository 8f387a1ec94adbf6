"""Replay the energy policy over a price file, interval by interval, against two baselines.

The same `rigshift.energy.policy.decide` the server runs decides each interval; the simulator
only keeps the books: energy bought (site draw x price, PUE included), tokens sold (interactive
up to its demand, batch as the backlog allows, earliest deadline first), mining revenue, batch
deadlines met, SLO minutes lost (minutes with fewer replicas than a deployment's minimum,
outside events and during them, counted apart) and curtailed hours (hours in which a card that
had work, or could mine, was held off, or an event limit was in force).

Batches whose deadline falls after the price file's end are left out of the deadline counts.
Demand-response events are honoured by the policy only (the baselines are what a farm without
rigshift would do). An event's `shed_kw` is measured against what the policy would have drawn
in the same interval without the event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rigshift.econ.prices.power_series import PriceSeries
from rigshift.energy.demand import Demand, Event, batch_jobs
from rigshift.energy.farm import Farm, SiteFarm
from rigshift.energy.policy import (
    BatchJob,
    CardGroup,
    InteractiveNeed,
    SiteDecision,
    SiteInterval,
    always_on,
    check_feasible,
    decide,
    mining_only,
)
from rigshift.units import usd_for_tokens

Strategy = Callable[
    [Sequence[CardGroup], SiteInterval, Sequence[InteractiveNeed], Sequence[BatchJob], bool], SiteDecision
]
STRATEGIES: dict[str, Strategy] = {"policy": decide, "always_on": always_on, "mining_only": mining_only}
DAY_AHEAD_HORIZON_S = 24 * 3600  # the day-ahead market clears the next operating day: >= 24 h known


@dataclass
class Totals:
    net_usd: float = 0.0
    energy_cost_usd: float = 0.0
    energy_kwh: float = 0.0
    token_revenue_usd: float = 0.0
    interactive_revenue_usd: float = 0.0
    batch_revenue_usd: float = 0.0
    mining_revenue_usd: float = 0.0
    batch_deadlines_met: int = 0
    batch_deadlines_total: int = 0
    slo_minutes_lost: float = 0.0
    slo_minutes_lost_in_events: float = 0.0
    curtailed_hours: float = 0.0
    interactive_tokens_unserved: float = 0.0
    event_kwh_avoided: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}
        return out

    def add(self, other: Totals) -> None:
        for k, v in other.__dict__.items():
            setattr(self, k, getattr(self, k) + v)


@dataclass
class SiteRun:
    totals: Totals
    power_kw: np.ndarray
    replicas: np.ndarray
    batch_cards: np.ndarray
    mining_cards: np.ndarray
    off_cards: np.ndarray
    caps_w: np.ndarray  # mean cap of the AI cards that run (0 when none)
    in_event: np.ndarray
    events: list[dict[str, Any]] = field(default_factory=list)


def _needs(demand: Demand, site: str, starts: np.ndarray) -> list[tuple[InteractiveNeed, np.ndarray]]:
    return [
        (
            InteractiveNeed(d.deployment, d.min_replicas, 0.0, d.usd_per_m_tokens),
            d.tokens_per_s(starts),
        )
        for d in demand.interactive
        if d.site == site
    ]


def simulate_site(
    farm: SiteFarm,
    prices: PriceSeries,
    demand: Demand,
    events: Sequence[Event],
    strategy: str,
    day_ahead: bool,
) -> SiteRun:
    decide_fn = STRATEGIES[strategy]
    starts = prices.starts
    step = prices.step_s
    n = len(starts)
    dt_h = step / 3600
    needs = _needs(demand, farm.site, starts)
    check_feasible(farm.groups, [nd for nd, _ in needs], farm.pue, farm.cap_kw)
    arriving = sorted(
        (j for j in batch_jobs(demand, int(starts[0]), int(starts[-1]) + step) if j.site == farm.site),
        key=lambda j: j.arrive,
    )
    site_events = [e for e in events if e.site == farm.site] if strategy == "policy" else []
    totals = Totals()
    power = np.zeros(n)
    replicas = np.zeros(n, dtype=np.int64)
    batch_cards = np.zeros(n, dtype=np.int64)
    mining_cards = np.zeros(n, dtype=np.int64)
    off_cards = np.zeros(n, dtype=np.int64)
    caps = np.zeros(n)
    in_event = np.zeros(n, dtype=bool)
    # Cards that mine at the file's median price: one of them off is curtailment, not retirement.
    median = float(np.median(prices.usd_per_kwh)) * farm.pue
    mining_possible = sum(
        g.count
        for g in farm.groups
        if not g.converted and g.mining_usd_per_hour > (g.mining_w + g.host_w) / 1000 * median
    )
    active: list[list[Any]] = []  # [job, tokens_left]
    next_job = 0
    end_of_span = int(starts[-1]) + step
    event_log: dict[int, dict[str, Any]] = {}
    prices_kwh = prices.usd_per_kwh
    horizon = int(DAY_AHEAD_HORIZON_S // step) if day_ahead else 0
    constant: SiteDecision | None = None
    for i in range(n):
        t = float(starts[i])
        t_end = t + step
        while next_job < len(arriving) and arriving[next_job].arrive < t_end:
            job = arriving[next_job]
            active.append([job, job.tokens])
            next_job += 1
        jobs = [BatchJob(j.id, left, j.deadline, j.usd_per_m_tokens) for j, left in active if j.arrive <= t]
        interactive = [
            InteractiveNeed(nd.deployment, nd.min_replicas, float(series[i]), nd.usd_per_m_tokens)
            for nd, series in needs
        ]
        da = tuple(prices_kwh[i + 1 : i + 1 + horizon].tolist()) if horizon else ()
        interval = SiteInterval(farm.site, t, step, float(prices_kwh[i]), farm.pue, farm.cap_kw, None, da)
        event = next((e for e in site_events if e.start_ts <= t < e.end_ts), None)
        baseline_kw = None
        if event is not None:
            free_run = decide_fn(farm.groups, interval, interactive, jobs, False)
            baseline_kw = free_run.power_kw
            limit = (
                event.target_kw
                if event.target_kw is not None
                else max(0.0, baseline_kw - (event.shed_kw or 0.0))
            )
            interval = SiteInterval(
                farm.site, t, step, float(prices_kwh[i]), farm.pue, farm.cap_kw, limit, da
            )
        if strategy == "mining_only":  # the same every interval: decide once
            decision = constant = constant or decide_fn(farm.groups, interval, interactive, jobs, False)
        else:
            decision = decide_fn(farm.groups, interval, interactive, jobs, False)

        # the books
        kwh = decision.power_kw * dt_h
        totals.energy_kwh += kwh
        totals.energy_cost_usd += kwh * float(prices_kwh[i])
        for nd, series in needs:
            demand_tps = float(series[i])
            served = min(demand_tps, decision.interactive_tokens_per_s.get(nd.deployment, 0.0))
            totals.interactive_revenue_usd += usd_for_tokens(served * step, nd.usd_per_m_tokens)
            totals.interactive_tokens_unserved += (demand_tps - served) * step
            if decision.replicas.get(nd.deployment, 0) < nd.min_replicas:
                if event is None:
                    totals.slo_minutes_lost += step / 60
                else:
                    totals.slo_minutes_lost_in_events += step / 60
        tokens = decision.batch_tokens_per_s * step
        for entry in sorted(active, key=lambda e: e[0].deadline):
            if tokens <= 0:
                break
            if entry[0].arrive > t:
                continue
            done = min(tokens, entry[1])
            entry[1] -= done
            tokens -= done
            totals.batch_revenue_usd += usd_for_tokens(done, entry[0].usd_per_m_tokens)
        still = []
        for entry in active:
            counted = entry[0].deadline <= end_of_span
            if entry[1] <= 1e-6:
                if counted:
                    totals.batch_deadlines_met += 1
                    totals.batch_deadlines_total += 1
            elif t_end >= entry[0].deadline:
                if counted:
                    totals.batch_deadlines_total += 1
            else:
                still.append(entry)
        active = still
        mining_now = decision.mining_cards
        totals.mining_revenue_usd += decision.mining_usd_per_hour * dt_h
        power[i] = decision.power_kw
        replicas[i] = decision.interactive_cards
        batch_cards[i] = decision.batch_cards
        mining_cards[i] = mining_now
        off_cards[i] = decision.off_cards
        caps[i] = decision.mean_ai_cap_w
        in_event[i] = event is not None
        backlog_waiting = any(entry[0].arrive <= t for entry in active)
        if strategy == "policy" and (
            event is not None
            or mining_now < mining_possible
            or (backlog_waiting and decision.batch_tokens_per_s <= 0)
        ):
            totals.curtailed_hours += dt_h
        if event is not None and baseline_kw is not None:
            key = id(event)
            rec = event_log.setdefault(
                key,
                {
                    "site": event.site,
                    "start": event.start.isoformat(),
                    "end": event.end.isoformat(),
                    "shed_kw_asked": event.shed_kw,
                    "target_kw": event.target_kw,
                    "kwh_avoided": 0.0,
                    "max_kw_shed": 0.0,
                    "intervals": 0,
                    "intervals_over_target": 0,
                    "paused": {
                        "batch_card_intervals": 0,
                        "mining_card_intervals": 0,
                        "replicas_below_minimum": 0,
                    },
                },
            )
            shed = max(0.0, baseline_kw - decision.power_kw)
            rec["kwh_avoided"] += shed * dt_h
            rec["max_kw_shed"] = max(rec["max_kw_shed"], shed)
            rec["intervals"] += 1
            if decision.limit_kw is not None and decision.power_kw > decision.limit_kw + 1e-6:
                rec["intervals_over_target"] += 1
            rec["paused"]["batch_card_intervals"] += max(0, free_run.batch_cards - decision.batch_cards)
            rec["paused"]["mining_card_intervals"] += max(0, free_run.mining_cards - mining_now)
            below = sum(max(0, nd.min_replicas - decision.replicas.get(nd.deployment, 0)) for nd, _ in needs)
            rec["paused"]["replicas_below_minimum"] = max(rec["paused"]["replicas_below_minimum"], below)
            totals.event_kwh_avoided += shed * dt_h
    totals.token_revenue_usd = totals.interactive_revenue_usd + totals.batch_revenue_usd
    totals.net_usd = totals.token_revenue_usd + totals.mining_revenue_usd - totals.energy_cost_usd
    for rec in event_log.values():
        rec["kwh_avoided"] = round(rec["kwh_avoided"], 3)
        rec["max_kw_shed"] = round(rec["max_kw_shed"], 3)
    return SiteRun(
        totals,
        power,
        replicas,
        batch_cards,
        mining_cards,
        off_cards,
        caps,
        in_event,
        list(event_log.values()),
    )


@dataclass
class Simulation:
    runs: dict[str, dict[str, SiteRun]]  # strategy -> site -> run
    prices: dict[str, PriceSeries]
    farm: Farm
    demand: Demand
    events: list[Event]
    seconds: float

    def totals(self, strategy: str) -> Totals:
        out = Totals()
        for run in self.runs[strategy].values():
            out.add(run.totals)
        return out

    def to_json(self, with_intervals: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {name: self.totals(name).as_dict() for name in STRATEGIES}
        pol, base = out["policy"]["net_usd"], out["always_on"]["net_usd"]
        out["policy_vs_always_on_usd"] = round(pol - base, 2)
        out["policy_vs_always_on_pct"] = round(100 * (pol - base) / abs(base), 3) if base else None
        out["events"] = [e for run in self.runs["policy"].values() for e in run.events]
        out["inputs"] = {
            "prices": {site: s.summary() for site, s in self.prices.items()},
            "farm": self.farm.describe(),
            "demand": self.demand.model_dump(mode="json"),
            "events": [e.model_dump(mode="json") for e in self.events],
        }
        out["seconds"] = round(self.seconds, 3)
        if with_intervals:
            out["intervals"] = self.intervals()
        return out

    def intervals(self) -> list[dict[str, Any]]:
        rows = []
        for site, run in self.runs["policy"].items():
            series = self.prices[site]
            ao = self.runs["always_on"][site].power_kw
            mo = self.runs["mining_only"][site].power_kw
            for i in range(len(series)):
                rows.append(
                    {
                        "site": site,
                        "start": int(series.starts[i]),
                        "usd_per_mwh": round(float(series.usd_per_kwh[i]) * 1000, 3),
                        "policy_kw": round(float(run.power_kw[i]), 3),
                        "always_on_kw": round(float(ao[i]), 3),
                        "mining_only_kw": round(float(mo[i]), 3),
                        "replicas": int(run.replicas[i]),
                        "batch_cards": int(run.batch_cards[i]),
                        "mining_cards": int(run.mining_cards[i]),
                        "off_cards": int(run.off_cards[i]),
                        "mean_cap_w": round(float(run.caps_w[i]), 1),
                        "event": bool(run.in_event[i]),
                    }
                )
        return rows


def simulate(
    farm: Farm,
    prices: dict[str, PriceSeries],
    demand: Demand,
    events: Sequence[Event] = (),
    day_ahead: bool = False,
    strategies: Sequence[str] = tuple(STRATEGIES),
) -> Simulation:
    """Every site with a price series, under each strategy."""
    began = time.perf_counter()
    runs: dict[str, dict[str, SiteRun]] = {name: {} for name in strategies}
    for site, series in prices.items():
        site_farm = farm.site(site)
        for name in strategies:
            runs[name][site] = simulate_site(site_farm, series, demand, events, name, day_ahead)
    return Simulation(runs, prices, farm, demand, list(events), time.perf_counter() - began)


def span_days(series: PriceSeries) -> float:
    return (series.end - series.start) / 86400 if len(series) else 0.0


__all__ = ["STRATEGIES", "Simulation", "Totals", "simulate", "simulate_site", "span_days"]
