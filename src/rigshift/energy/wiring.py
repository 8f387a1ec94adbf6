"""`rigshift server --energy FILE`: the energy loop built from a config file and the running plane.

The config (YAML)::

    fleet: fleet.yaml              # which GPUs each rig has, and each rig's site
    econ_prices: prices.yaml       # optional: token prices and coin data (econ's format)
    model_class: 8b                # what converted cards serve
    step_minutes: 5                # how often the policy decides
    sites:
      tx-ercot:
        prices: {file: ercot_rt15.csv, settlement_point: HB_NORTH}
      # or, live:  ercot_api: {settlement_point: HB_NORTH}
      #   (ERCOT_API_SUBSCRIPTION_KEY, ERCOT_API_USERNAME, ERCOT_API_PASSWORD in the environment)

`min_replicas: {deployment: N}` sets a deployment's SLO minimum (default: every planned replica);
planned replicas above it run while they pay for their power and are held down in dear hours.

What the plane supplies: the deployments planned on each site's rigs, hold/release of replicas
(the manager drains before stopping), and the draw measured by the agents' telemetry. The batch
backlog comes from the batch runner: it sets `EnergyService.backlog` (site -> jobs) and asks
`EnergyService.batch_allowed(site)`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from rigshift.econ.prices.power_series import PriceSeries
from rigshift.energy.contracts import PowerTerms, read_power_terms
from rigshift.energy.ercot_api import ErcotApi, b2c_token
from rigshift.energy.events import EventSource
from rigshift.energy.farm import build_farm
from rigshift.energy.policy import InteractiveNeed
from rigshift.energy.prices import read_price_series
from rigshift.energy.service import EnergyService, SeriesPrices
from rigshift.errors import EnvironmentProblem, InputError, Problem
from rigshift.fleet.model import Fleet
from rigshift.fleet.store import load_fleet
from rigshift.readers.models import read_model


class PriceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str
    format: str = "auto"
    settlement_point: str | None = None
    # A past year as today's prices: now maps to the same offset into the file's span, repeated
    # (a tour or a demo; a real site uses this year's file or ercot_api).
    replay: bool = False


class LiveErcot(BaseModel):
    model_config = ConfigDict(extra="forbid")
    settlement_point: str = "HB_NORTH"


class SiteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prices: PriceFile | None = None
    ercot_api: LiveErcot | None = None


class EnergyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fleet: str
    econ_prices: str | None = None
    model_class: str = "8b"
    step_minutes: int = Field(default=5, ge=1, le=60)
    min_replicas: dict[str, int] = Field(default_factory=dict)  # deployment -> SLO; default: all planned
    sites: dict[str, SiteConfig]
    # The hard limits (docs/energy.md): batch never at a loss, even when due; `power`: the power
    # file of `energy simulate --power` (its voll_usd_per_mwh stops minimum replicas above it; a
    # site with four_cp applies the peak-risk rule to its price file's intervals).
    hard_limits: bool = True
    power: str | None = None


def read_config(path: Path) -> EnergyConfig:
    return read_model(EnergyConfig, path, "an energy config (docs/energy.md)")


class LivePrices:
    """ERCOT's live API as `PriceNow`: real-time for today, day-ahead for the curve, refreshed."""

    def __init__(self, apis: Mapping[str, ErcotApi], refresh_s: float = 300.0) -> None:
        self.apis = dict(apis)
        self.refresh_s = refresh_s
        self._cache: dict[str, tuple[float, PriceSeries | None, PriceSeries | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, site: str, now: float) -> tuple[float, tuple[float, ...]] | None:
        api = self.apis.get(site)
        if api is None:
            return None
        with self._lock:
            at, rt, dam = self._cache.get(site, (0.0, None, None))
            if now - at > self.refresh_s:
                today = datetime.fromtimestamp(now, UTC).date()
                rt = api.real_time(today - timedelta(days=1), today)
                try:
                    dam = api.day_ahead(today, today + timedelta(days=1))
                except Exception:  # tomorrow's curve is published in the afternoon; today's still counts
                    dam = None
                self._cache[site] = (now, rt, dam)
        if rt is None or not len(rt):
            return None
        latest = float(rt.usd_per_kwh[min(len(rt) - 1, rt.index_at(now) or len(rt) - 1)])
        ahead: tuple[float, ...] = ()
        if dam is not None and len(dam):
            # The following intervals, on the real-time step: from the next quarter hour on.
            step = rt.step_s
            following = (int(now) // step + 1) * step
            ahead = tuple(dam.resample(step).window(following, following + 24 * 3600).usd_per_kwh.tolist())
        return latest, ahead


def gpus_by_group(fleet: Fleet) -> Callable[[str], Mapping[str, Sequence[str]]]:
    table: dict[str, dict[str, list[str]]] = {}
    for rig in fleet.rigs:
        for i, gpu in enumerate(rig.gpus):
            index = gpu.index if gpu.index is not None else i
            table.setdefault(rig.site, {}).setdefault(f"{rig.site}/{gpu.model}", []).append(
                f"{rig.name}/{index}"
            )
    return lambda site: table.get(site, {})


class PlannedReplica(Protocol):
    """What the loop reads of a desired replica (run.spec.ReplicaSpec has these fields): energy
    sits below run, so it names the shape instead of importing the class."""

    @property
    def replica_id(self) -> str: ...
    @property
    def deployment(self) -> str: ...
    @property
    def rig(self) -> str: ...
    @property
    def model(self) -> str: ...


def plan_by_site(
    fleet: Fleet, desired: Callable[[], Sequence[PlannedReplica]]
) -> Callable[[str], dict[str, list[str]]]:
    site_of = {r.name: r.site for r in fleet.rigs}

    def replicas(site: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for spec in desired():
            if site_of.get(spec.rig) == site:
                out.setdefault(spec.deployment, []).append(spec.replica_id)
        return out

    return replicas


def build_energy_loop(
    path: Path,
    events: EventSource,
    *,
    desired: Callable[[], Sequence[PlannedReplica]] = lambda: (),
    hold: Callable[[Sequence[str], str], None] | None = None,
    release: Callable[[Sequence[str]], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> tuple[EnergyService, Fleet]:
    """The loop, and the fleet it runs over (for `measured_site_kw`)."""
    config = read_config(path)
    base = path.parent
    fleet = load_fleet(base / config.fleet)
    farm = build_farm(
        fleet,
        base / config.econ_prices if config.econ_prices else None,
        model_class=config.model_class,
        sites=list(config.sites),
    )
    series: dict[str, PriceSeries] = {}
    replayed: set[str] = set()
    apis: dict[str, ErcotApi] = {}
    for name, site in config.sites.items():
        if site.prices is not None:
            series[name] = read_price_series(
                base / site.prices.file, site.prices.format, site.prices.settlement_point
            )
            if site.prices.replay:
                replayed.add(name)
        elif site.ercot_api is not None:
            apis[name] = _ercot(site.ercot_api.settlement_point)
        else:
            raise InputError(Problem(f"site {name}: give prices or ercot_api", str(path), field="prices"))
    files, live = SeriesPrices(series), LivePrices(apis)
    terms = read_power_terms(base / config.power) if config.power else PowerTerms()
    four_cp = {n: t.four_cp.timezone for n, t in terms.sites.items() if t.four_cp is not None}

    def risk(site: str, now: float) -> bool:  # live feeds keep no history: no peak-risk rule there
        return site in four_cp and site in series and files.peak_risk(site, now, four_cp[site])

    ceiling = terms.voll_usd_per_mwh / 1000 if terms.voll_usd_per_mwh else None

    def price_now(site: str, now: float) -> tuple[float, tuple[float, ...]] | None:
        if site not in series:
            return live(site, now)
        if site in replayed and len(series[site]):
            s = series[site]
            now = s.start + (now - s.start) % (s.end - s.start)
        return files(site, now)

    replicas = plan_by_site(fleet, desired)
    usd = farm.model_class.usd_per_m_output

    slowest = {
        s.site: min((g.levels[0].tokens_per_s for g in s.groups if g.converted and g.levels), default=1.0)
        for s in farm.sites
    }

    def demand(site: str) -> list[InteractiveNeed]:
        # The SLO minimum per deployment (`min_replicas`, default every planned replica); the
        # planned replicas above it run while they pay for their power (held down in dear hours).
        # Demand: what the gateway measures the deployment's model being served at (the rest of
        # the replicas' capacity is the batch work's spare slots); without a gateway, all the
        # planned replicas can serve. Never more than they can, so the policy never asks for
        # more replicas than are planned.
        measured = loop.served_tokens_per_s
        model_of = {s.deployment: s.model for s in desired()}
        now = clock()
        needs = []
        for d, ids in replicas(site).items():
            minimum = min(len(ids), config.min_replicas.get(d, len(ids)))
            planned = len(ids) * slowest[site] * 0.999
            want = planned if measured is None else min(planned, measured(model_of.get(d, d), now))
            needs.append(InteractiveNeed(d, minimum, want, usd, max_replicas=len(ids)))
        return needs

    loop = EnergyService(
        {s.site: s for s in farm.sites},
        price_now,
        events,
        demand=demand,
        gpus_by_group=gpus_by_group(fleet),
        replicas=replicas,
        hold=hold,
        release=release,
        step_s=config.step_minutes * 60,
        clock=clock,
        rig_sites={r.name: r.site for r in fleet.rigs},
        run_time=True,
        peak_risk=risk,
        no_loss=config.hard_limits,
        slo_ceiling_usd_per_kwh={s.site: ceiling for s in farm.sites} if ceiling is not None else None,
    )
    return loop, fleet


def _ercot(point: str) -> ErcotApi:
    env: dict[str, Any] = {
        k: os.environ.get(k)
        for k in ("ERCOT_API_SUBSCRIPTION_KEY", "ERCOT_API_USERNAME", "ERCOT_API_PASSWORD")
    }
    missing = [k for k, v in env.items() if not v]
    if missing:
        raise EnvironmentProblem(f"the live ERCOT feed needs {', '.join(missing)} in the environment")
    token = b2c_token(env["ERCOT_API_USERNAME"], env["ERCOT_API_PASSWORD"])
    return ErcotApi(env["ERCOT_API_SUBSCRIPTION_KEY"], token, settlement_point=point)


def measured_site_kw(
    readings: Callable[[], list[tuple[str, float, Any]]], fleet: Fleet, pue: Mapping[str, float]
) -> Callable[[str], float | None]:
    """Site draw from the agents' telemetry (sum of GPU power × PUE), None when nothing reports."""
    site_of = {r.name: r.site for r in fleet.rigs}

    def measure(site: str) -> float | None:
        watts = [
            g.power_w for rig, _at, g in readings() if site_of.get(rig) == site and g.power_w is not None
        ]
        return pue.get(site, 1.0) * sum(watts) / 1000 if watts else None

    return measure
