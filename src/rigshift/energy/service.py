"""The energy loop at run time: price → policy → decisions the agents and the batch runner act on.

`EnergyService.tick()` runs `policy.decide` (whose rules `rigshift energy simulate` applies,
vectorised, over a year), once per site, with the site's price now (and the day-ahead prices
after it), the demand-response event in force, the batch backlog and the interactive demand. It keeps the latest decision per site, and
turns it into:

- per-GPU power caps for the agents (`caps_for_rig`, served at GET /internal/energy/caps);
- "may batch run now at site S" for the batch runner (`batch_allowed`), plus a manual
  `pause_batch` / `resume_batch` an operator (or the batch runner itself) can set;
- the record of each event: the baseline when it began, kW shed, kWh avoided, how long the site
  took to get under its target, and what was paused.

Everything outside (prices, backlog, demand, measured draw, which GPUs form a group) comes in
through callables, so the service runs in tests without a cluster, a feed or a batch runner.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rigshift.econ.prices.power_series import PriceSeries
from rigshift.energy.events import EnergyEvent, EventSource
from rigshift.energy.farm import SiteFarm
from rigshift.energy.history import DecisionHistory
from rigshift.energy.policy import (
    PEAK_RISK_LOOKBACK_DAYS,
    BatchJob,
    GpuDecision,
    InteractiveNeed,
    SiteDecision,
    SiteInterval,
    decide,
    peak_risk,
    per_gpu,
)
from rigshift.ticker import Ticker

PriceNow = Callable[[str, float], tuple[float, tuple[float, ...]] | None]  # site, now -> ($/kWh, day-ahead)


class SeriesPrices:
    """Price files (or a live feed's latest pages) as `PriceNow`: the interval holding `now`."""

    def __init__(self, series: Mapping[str, PriceSeries], day_ahead_s: float = 24 * 3600):
        self.series = dict(series)
        self.day_ahead_s = day_ahead_s

    def __call__(self, site: str, now: float) -> tuple[float, tuple[float, ...]] | None:
        s = self.series.get(site)
        i = s.index_at(now) if s is not None else None
        if s is None or i is None:
            return None
        ahead = int(self.day_ahead_s // s.step_s) if s.kind == "day-ahead" else 0
        return float(s.usd_per_kwh[i]), tuple(s.usd_per_kwh[i + 1 : i + 1 + ahead].tolist())

    def peak_risk(self, site: str, now: float, timezone: str = "America/Chicago") -> bool:
        """Whether the interval holding `now` may be a 4CP peak (`policy.peak_risk`), from the
        prices up to it (the rule's lookback), never later ones."""
        s = self.series.get(site)
        i = s.index_at(now) if s is not None else None
        if s is None or i is None:
            return False
        lo = max(0, i - int((PEAK_RISK_LOOKBACK_DAYS + 1) * 86400 // s.step_s))
        return bool(peak_risk(s.starts[lo : i + 1], s.usd_per_kwh[lo : i + 1], timezone)[-1])


@dataclass
class SiteState:
    decision: SiteDecision | None = None
    unconstrained_kw: float | None = None  # what the policy would draw without the event
    event: EnergyEvent | None = None
    measured_kw: float | None = None
    batch_paused: str | None = None  # an operator's or the batch runner's reason
    last_tick: float | None = None
    price_missing: bool = False
    # Batch lines run on replicas: on the spare slots of those that serve, and on those kept up
    # for the cards the policy gives to batch. None: the loop knows no replicas at this site.
    batch_replicas: int | None = None


class EnergyService:
    def __init__(
        self,
        sites: Mapping[str, SiteFarm],
        prices: PriceNow,
        events: EventSource,
        *,
        backlog: Callable[[str], Sequence[BatchJob]] = lambda site: (),
        demand: Callable[[str], Sequence[InteractiveNeed]] = lambda site: (),
        measured_kw: Callable[[str], float | None] = lambda site: None,
        gpus_by_group: Callable[[str], Mapping[str, Sequence[str]]] = lambda site: {},
        replicas: Callable[[str], Mapping[str, Sequence[str]]] = lambda site: {},
        hold: Callable[[Sequence[str], str], None] | None = None,
        release: Callable[[Sequence[str]], None] | None = None,
        step_s: int = 300,
        clock: Callable[[], float] = time.time,
        rig_sites: Mapping[str, str] | None = None,
        run_time: bool = False,
        peak_risk: Callable[[str, float], bool] = lambda site, now: False,
        no_loss: bool = False,
        slo_ceiling_usd_per_kwh: Mapping[str, float] | None = None,
    ) -> None:
        self.sites = dict(sites)
        self.rig_sites = dict(rig_sites or {})  # rig name -> site, for the batch runner's per-replica check
        self.prices = prices
        self.events = events
        self.backlog = backlog
        self.demand = demand
        # Interactive tokens/s a model is served at now (the gateway's meter), for `demand`
        # builders that size replicas from it; None when no gateway runs beside the loop.
        self.served_tokens_per_s: Callable[[str, float], float] | None = None
        self.measured_kw = measured_kw
        self.gpus_by_group = gpus_by_group
        self.replicas = replicas
        # Beside a running plane: `demand` gives the plan's deployments, and batch runs only on
        # their replicas (`decide(run_time=True)`), so a site with none planned gets no batch cards.
        self.run_time = run_time
        # The hard limits (docs/energy.md): a site with a 4CP program asks `peak_risk`; `no_loss`
        # keeps batch from running at a loss; the SLO ceiling stops minimum replicas above it.
        self.peak_risk = peak_risk
        self.no_loss = no_loss
        self.slo_ceiling = dict(slo_ceiling_usd_per_kwh or {})
        self.hold = hold
        self.release = release
        self.held: dict[str, str] = {}  # replica id -> why the policy holds it down
        self.step_s = step_s
        self.clock = clock
        self.state: dict[str, SiteState] = {name: SiteState() for name in self.sites}
        self.history = DecisionHistory(step_s)  # the console's charts of prices and hours
        self._gpus: dict[str, GpuDecision] = {}
        self._lock = threading.Lock()
        self._tick_lock = threading.Lock()
        self._loop = Ticker("energy", self.tick, _tick_failed)

    # --- the loop ----------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> dict[str, SiteDecision]:
        now = self.clock() if now is None else now
        events = self.events.current(now)
        out: dict[str, SiteDecision] = {}
        for name, farm in self.sites.items():
            decision = self._tick_site(
                name, farm, now, [e for e in events if e.site == name and e.active(now)]
            )
            if decision is not None:
                out[name] = decision
        return out

    def _tick_site(
        self, name: str, farm: SiteFarm, now: float, active: list[EnergyEvent]
    ) -> SiteDecision | None:
        state = self.state[name]
        quote = self.prices(name, now)
        if quote is None:
            state.price_missing = True  # keep the last decision: no price is no reason to stop serving
            return state.decision
        state.price_missing = False
        price, ahead = quote
        needs = list(self.demand(name))
        jobs = list(self.backlog(name))
        interval = SiteInterval(
            name, now, self.step_s, price, farm.pue, farm.cap_kw, None, ahead,
            no_loss=self.no_loss,
            slo_ceiling_usd_per_kwh=self.slo_ceiling.get(name),
            peak_risk=self.peak_risk(name, now),
        )  # fmt: skip
        free = decide(farm.groups, interval, needs, jobs, run_time=self.run_time)
        event = active[0] if active else None
        decision = free
        if event is not None:
            if event.baseline_kw is None:
                before = (
                    state.measured_kw
                    if state.measured_kw is not None
                    else (
                        state.decision.power_kw
                        if state.decision is not None and not state.decision.in_event
                        else free.power_kw
                    )
                )
                event = replace(event, baseline_kw=before)
            decision = decide(
                farm.groups,
                replace(interval, event_kw=event.limit_kw(free.power_kw)),
                needs,
                jobs,
                run_time=self.run_time,
            )
        measured = self.measured_kw(name)
        dt = now - state.last_tick if state.last_tick is not None else 0.0
        if event is not None:
            event = self._account(event, free, decision, measured, now, min(dt, self.step_s))
            paused_batch = self._batch_runs(name, free) and not self._batch_runs(name, decision)
            if paused_batch and not event.paused.get("batch_paused"):
                event = replace(event, paused={**event.paused, "batch_paused": True})
            self.events.record(event)
        batch_replicas = self._scale(name, decision, event)
        gpus = per_gpu(decision, self.gpus_by_group(name), {g: d.role for g, d in self._gpus.items()})
        with self._lock:
            state.decision, state.unconstrained_kw, state.event = decision, free.power_kw, event
            state.measured_kw, state.last_tick = measured, now
            state.batch_replicas = batch_replicas
            for g in gpus:
                self._gpus[g.gpu] = g
        cards = (decision.interactive_cards, decision.batch_cards, decision.mining_cards, decision.off_cards)
        self.history.record(name, now, decision.usd_per_kwh, decision.power_kw, cards)
        return decision

    def _replicas_up(self, site: str, decision: SiteDecision) -> tuple[list[str], list[str], int | None]:
        """Which planned replicas `decision` keeps up and which it holds down, and how many of
        those up serve batch alone (None: no replicas planned at this site).

        Each deployment keeps the first `decision.replicas[d]` of its planned replicas, and the
        next ones for the cards the policy gives to batch (batch lines run on replicas)."""
        planned = self.replicas(site)
        if not planned:
            return [], [], None
        up: list[str] = []
        down: list[str] = []
        for_batch = decision.batch_cards
        for deployment, ids in planned.items():
            keep = decision.replicas.get(deployment, len(ids))
            extra = min(for_batch, len(ids) - keep)
            keep, for_batch = keep + extra, for_batch - extra
            up += ids[:keep]
            down += ids[keep:]
        return up, down, decision.batch_cards - for_batch

    def _batch_runs(self, site: str, decision: SiteDecision) -> bool:
        return _lines_can_run(decision, self._replicas_up(site, decision)[2])

    def _scale(self, site: str, decision: SiteDecision, event: EnergyEvent | None) -> int | None:
        """Replica up/down as `_replicas_up` says; the replicas held down are drained, then stopped,
        until the policy wants them. Returns how many replicas are up for batch alone."""
        up, down, for_batch = self._replicas_up(site, decision)
        if self.hold is not None and self.release is not None:
            reason = f"energy: event {event.id}" if event is not None else "energy: price"
            to_hold = [rid for rid in down if rid not in self.held]
            to_release = [rid for rid in up if rid in self.held]
            if to_hold:
                self.hold(to_hold, reason)
                self.held.update(dict.fromkeys(to_hold, reason))
            if to_release:
                self.release(to_release)
                for rid in to_release:
                    self.held.pop(rid, None)
        return for_batch

    @staticmethod
    def _account(
        event: EnergyEvent,
        free: SiteDecision,
        decision: SiteDecision,
        measured: float | None,
        now: float,
        dt: float,
    ) -> EnergyEvent:
        drawing = measured if measured is not None else decision.power_kw
        baseline = event.baseline_kw if event.baseline_kw is not None else free.power_kw
        shed = max(0.0, baseline - drawing)
        under = event.under_target_after_s
        if under is None and drawing <= event.limit_kw(free.power_kw) + 1e-6:
            under = now - event.start_at
        below = sum(max(0, free.replicas.get(d, 0) - n) for d, n in decision.replicas.items())
        paused = {
            "batch_cards": max(event.paused.get("batch_cards", 0), free.batch_cards - decision.batch_cards),
            "mining_cards": max(
                event.paused.get("mining_cards", 0), free.mining_cards - decision.mining_cards
            ),
            "replicas_stopped": max(event.paused.get("replicas_stopped", 0), below),
            "batch_paused": event.paused.get("batch_paused", False),  # set by the caller (run time)
        }
        return replace(
            event,
            max_kw_shed=max(event.max_kw_shed, shed),
            kwh_avoided=event.kwh_avoided + shed * dt / 3600,
            under_target_after_s=under,
            paused=paused,
        )

    def start(self, interval_s: float = 5.0) -> None:
        """Tick every `interval_s` in a thread (an event's caps reach the agents within seconds);
        the loop outlives a bad tick (a locked DB, a feed hiccup)."""
        self._loop.start(interval_s)

    def close(self) -> None:
        self._loop.stop(join_s=10)

    # --- what the batch runner and the agents ask --------------------------------------------

    def batch_allowed(self, site: str) -> bool:
        """May batch work run at `site` now? No while paused by hand; otherwise what the policy
        decided, where batch lines can run: on spare slots of the serving replicas (off in an
        event) or on replicas kept up for batch cards. A card the policy gives to batch that
        holds no planned replica runs no line, so it does not open the gate. Without planned
        replicas (no run plane), the policy's batch on/off."""
        state = self.state.get(site)
        if state is None or state.batch_paused is not None or state.decision is None:
            return False
        return _lines_can_run(state.decision, state.batch_replicas)

    def batch_allowed_on_rig(self, rig: str) -> bool:
        """May a batch line run on a replica of `rig`? A rig outside the energy config's fleet is
        governed by no policy here, so batch may run there as it would without energy operations."""
        site = self.rig_sites.get(rig)
        return site not in self.state or self.batch_allowed(site)

    def batch_allowed_somewhere(self) -> bool:
        return any(self.batch_allowed(site) for site in self.state) or bool(
            set(self.rig_sites.values()) - set(self.state)
        )

    def pause_batch(self, site: str, reason: str) -> None:
        self._site(site).batch_paused = reason or "paused"

    def resume_batch(self, site: str) -> None:
        self._site(site).batch_paused = None

    def _site(self, site: str) -> SiteState:
        if site not in self.state:
            from rigshift.errors import InputError, Problem
            from rigshift.suggest import did_you_mean

            raise InputError(
                Problem(f"no site {site!r}", field="site", suggestions=did_you_mean(site, self.state))
            )
        return self.state[site]

    def caps_for_rig(self, rig: str) -> list[dict[str, Any]]:
        """The power cap per GPU index of `rig` ("rig/index" names), None = leave the card alone."""
        with self._lock:
            found = [d for name, d in self._gpus.items() if name.rsplit("/", 1)[0] == rig]
        return [
            {
                "index": int(d.gpu.rsplit("/", 1)[1]),
                "power_cap_w": d.power_cap_w,
                "role": d.role,
                "deployment": d.deployment,
            }
            for d in sorted(found, key=lambda d: int(d.gpu.rsplit("/", 1)[1]))
        ]

    def snapshot(self) -> dict[str, Any]:
        """Current price, decision and event per site (GET /admin/energy)."""
        sites = []
        with self._lock:
            for name, state in self.state.items():
                d = state.decision
                sites.append(
                    {
                        "site": name,
                        "at": state.last_tick,
                        "price_usd_mwh": round(d.usd_per_kwh * 1000, 3) if d else None,
                        "price_missing": state.price_missing,
                        "limit_kw": d.limit_kw if d else None,
                        "planned_kw": round(d.power_kw, 3) if d else None,
                        "unconstrained_kw": round(state.unconstrained_kw, 3)
                        if state.unconstrained_kw is not None
                        else None,
                        "measured_kw": state.measured_kw,
                        "batch_allowed": self.batch_allowed(name),
                        "batch_paused": state.batch_paused,
                        "event": state.event.as_json() if state.event is not None else None,
                        "decision": _decision_json(d) if d else None,
                        "history": self.history.series(name),
                    }
                )
        return {"sites": sites}


def _tick_failed(error: Exception) -> None:
    logging.getLogger(__name__).exception("energy tick failed")


def _lines_can_run(decision: SiteDecision, batch_replicas: int | None) -> bool:
    """Can batch lines run under `decision`: on spare slots of the serving replicas, or on the
    replicas kept up for batch cards (`batch_replicas`; None: no planned replicas known, so the
    policy's batch on/off)?"""
    if batch_replicas is None:
        return decision.batch_on
    return decision.batch_spare_tokens_per_s > 0 or batch_replicas > 0


def _decision_json(d: SiteDecision) -> dict[str, Any]:
    return {
        "replicas": dict(d.replicas),
        "batch_on": d.batch_on,
        "mining_on": d.mining_on,
        "batch_tokens_per_s": round(d.batch_tokens_per_s, 2),
        "batch_spare_tokens_per_s": round(d.batch_spare_tokens_per_s, 2),  # of that, on serving replicas
        "in_event": d.in_event,
        "cards": {
            "interactive": d.interactive_cards,
            "batch": d.batch_cards,
            "mining": d.mining_cards,
            "off": d.off_cards,
        },
        "groups": [g._asdict() for g in d.groups],
        "notes": list(d.notes),
    }
