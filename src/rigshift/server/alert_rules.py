"""The alert rules: which conditions hold now, from state the server already keeps. Pure.

Inputs are passed in: the fleet view (rigs' telemetry ages, GPUs' live temperatures, replicas'
restarts: `fleet_view.build_view`, whose three conditions are kept as they are), the last
minutes' usage per model (`usage_report`), and the energy loop's price per site. The store turns
the conditions into alerts with a history: one fires when its (rule, subject) first holds and
resolves when it stops holding (`stores/alerts.py`).

| rule                | subject | holds when                                                          |
|---------------------|---------|---------------------------------------------------------------------|
| rig_lost            | rig     | no telemetry for longer than `telemetry_stale_s` (critical)         |
| telemetry_stale     | rig     | no telemetry for `stale_after_s`, not yet lost (agents report / 5 s)|
| replica_restarting  | replica | unhealthy, or starting again after a restart                        |
| hot_gpu             | GPU     | a live reading at or above `HOT_GPU_C`                              |
| error_rate          | model   | errors / requests over the window ≥ `error_rate`, ≥ `min_requests`  |
| slo_breach          | model   | p95 latency of successful requests over the window > the SLO        |
| price_above_ceiling | site    | the site's price now above `price_ceiling_usd_mwh` (when set)       |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from rigshift.server.fleet_view import FleetView

Rule = Literal[
    "rig_lost",
    "telemetry_stale",
    "replica_restarting",
    "hot_gpu",
    "error_rate",
    "slo_breach",
    "price_above_ceiling",
]
RULES: tuple[Rule, ...] = get_args(Rule)
Severity = Literal["warning", "critical"]


@dataclass(frozen=True)
class AlertLimits:
    """Where each rule fires; the defaults are argued in docs/server.md ("Alerts")."""

    stale_after_s: float = 15.0  # three missed reports of an agent's 5 s interval
    window_s: float = 300.0  # error rate and SLO over the last five minutes
    error_rate: float = 0.05
    min_requests: int = 20  # fewer requests say nothing about a rate
    slo_p95_latency_s: float = 30.0
    price_ceiling_usd_mwh: float | None = None  # None: the rule is off


@dataclass(frozen=True)
class Condition:
    rule: Rule
    subject: str
    severity: Severity
    message: str


def conditions(
    view: FleetView,
    usage_by_model: Sequence[Mapping[str, Any]],
    site_prices: Iterable[Mapping[str, Any]],
    limits: AlertLimits,
) -> list[Condition]:
    """Every condition that holds now, one per (rule, subject)."""
    found = [Condition(a.kind, a.subject, a.severity, a.message) for a in view.alerts]
    found += _stale(view, limits)
    found += _serving(usage_by_model, limits)
    found += _prices(site_prices, limits)
    unique: dict[tuple[str, str], Condition] = {}
    for c in found:
        unique.setdefault((c.rule, c.subject), c)
    return list(unique.values())


def _stale(view: FleetView, limits: AlertLimits) -> list[Condition]:
    return [
        Condition(
            "telemetry_stale",
            rig.name,
            "warning",
            f"rig {rig.name}: last telemetry {rig.telemetry_age_s:.0f} s ago "
            f"(stale after {limits.stale_after_s:.0f} s)",
        )
        for rig in view.rigs
        if not rig.lost and rig.telemetry_age_s is not None and rig.telemetry_age_s > limits.stale_after_s
    ]


def _serving(usage_by_model: Sequence[Mapping[str, Any]], limits: AlertLimits) -> list[Condition]:
    found: list[Condition] = []
    minutes = limits.window_s / 60
    for row in usage_by_model:
        model, requests, errors = str(row["group"]), int(row["requests"]), int(row["errors"])
        if requests >= limits.min_requests and errors / requests >= limits.error_rate:
            found.append(
                Condition(
                    "error_rate",
                    model,
                    "critical",
                    f"model {model}: {errors} of {requests} requests failed in the last {minutes:.0f} min "
                    f"({errors / requests:.0%}; alert at ≥ {limits.error_rate:.0%})",
                )
            )
        p95_ms = (row.get("latency_ms") or {}).get("p95")
        if p95_ms is not None and p95_ms / 1000 > limits.slo_p95_latency_s:
            found.append(
                Condition(
                    "slo_breach",
                    model,
                    "warning",
                    f"model {model}: p95 latency {p95_ms / 1000:.1f} s over the last {minutes:.0f} min "
                    f"(SLO {limits.slo_p95_latency_s:g} s)",
                )
            )
    return found


def _prices(site_prices: Iterable[Mapping[str, Any]], limits: AlertLimits) -> list[Condition]:
    ceiling = limits.price_ceiling_usd_mwh
    if ceiling is None:
        return []
    return [
        Condition(
            "price_above_ceiling",
            str(site["site"]),
            "warning",
            f"site {site['site']}: power at ${site['price_usd_mwh']:.1f}/MWh, above the ceiling "
            f"${ceiling:g}/MWh",
        )
        for site in site_prices
        if site.get("price_usd_mwh") is not None and site["price_usd_mwh"] > ceiling
    ]
