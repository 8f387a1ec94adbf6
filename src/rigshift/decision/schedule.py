"""The decision's last step, scheduled: the hours the converted cards run over the price series the
decision was given (econ's `power.series`, read as its duration curve).

A converted card runs in the hours where serving, as the conversion plan runs it (its utilisation),
pays for its power: at or below its break-even price (revenue over power, PUE included; staff
excluded, since it is paid whether the card runs or not). The duration curve has no time of day, so this counts the
hours; the hour-by-hour schedule (SLO replicas, batch shifted to cheap hours, events, contracts,
4CP) is `rigshift energy simulate`'s over the same cards (docs/energy.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rigshift.decision.funnel import class_id
from rigshift.decision.types import GpuDecision, Scheduled
from rigshift.econ.analysis import Economics
from rigshift.econ.formulas import DAYS_PER_MONTH

NO_SERIES = (
    "no power price series in the decision's prices (econ's power.series): hours not scheduled; "
    "rigshift energy simulate --prices FILE schedules them"
)


def converted_by_class(gpus: Iterable[GpuDecision]) -> dict[str, int]:
    """Card class id (econ's and the energy farm's "site/gpu model") -> the converted GPUs in it."""
    out: dict[str, int] = {}
    for g in gpus:
        if g.stage in ("converted", "placed"):
            key = class_id(g.site, g.gpu_model)
            out[key] = out.get(key, 0) + 1
    return out


def break_even_by_class(economics: Economics) -> dict[str, float]:
    """Card class id -> the power price ($/kWh) at which its converted cards' serving, as the
    conversion plan runs them (its utilisation), nets zero before staff."""
    out = {}
    for a in economics.plan.after:
        if a.use == "infer" and not a.bought and a.power_kw > 0:
            out[a.card_id] = a.monthly_revenue_usd / (a.power_kw * 24 * DAYS_PER_MONTH)
    return out


def scheduled(economics: Economics | None, converted: Mapping[str, int]) -> Scheduled:
    """`converted`: card class id -> the decision's converted GPUs of that class."""
    series = economics.inputs.power.series if economics is not None else None
    gpus = sum(converted.values())
    if economics is None or series is None or not series.duration_curve:
        return Scheduled(price_series=None, hours=0.0, converted_gpus=gpus, gpu_hours=0.0, hours_on=0.0,
                         share_on=0.0, note=NO_SERIES)  # fmt: skip
    gpu_hours = 0.0
    for card_id, even in break_even_by_class(economics).items():
        share = sum(s for price, s in series.duration_curve if price <= even)
        gpu_hours += converted.get(card_id, 0) * share * series.hours
    hours_on = gpu_hours / gpus if gpus else 0.0
    return Scheduled(
        price_series=f"{series.source} ({series.first} … {series.last})",
        hours=round(series.hours, 3),
        converted_gpus=gpus,
        gpu_hours=round(gpu_hours, 3),
        hours_on=round(hours_on, 3),
        share_on=round(hours_on / series.hours, 4) if series.hours else 0.0,
        note="hours at or below each converted card's break-even price, from the series' duration curve",
    )


__all__ = ["NO_SERIES", "converted_by_class", "scheduled"]
