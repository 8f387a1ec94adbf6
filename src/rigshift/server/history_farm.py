"""What the history samples from the farm's state and its traffic, as (series, subject, value). Pure.

Per GPU and per rig: each agent report as it arrives. Per site and for the farm: a snapshot of the
fleet view (the Overview's live states and power) taken every flush, because a total over rigs
that report at different moments is only meaningful at one moment. Per model, replica, tenant and
card class: each metered request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from rigshift.fleet.model import Fleet
from rigshift.run.contracts import RigTelemetry
from rigshift.server.fleet_view import FleetView
from rigshift.server.history_series import ALL, GPU_STATES, gpu_subject
from rigshift.server.metering import TokenPrices
from rigshift.server.stores.usage import UsageRecord

Sample = tuple[str, str, float]  # series, subject, value

_GPU_FIELDS = {
    "power_w": "power_w",
    "temperature_c": "temperature_c",
    "utilization_pct": "utilization_pct",
    "vram_used_gib": "memory_used_gib",
}


def telemetry_samples(report: RigTelemetry) -> Iterator[Sample]:
    """One report: each GPU's readings, and the rig's (power and VRAM summed, the hottest GPU,
    the mean utilisation)."""
    by_field: dict[str, list[float]] = {f: [] for f in _GPU_FIELDS}
    for gpu in report.gpus:
        subject = gpu_subject(report.rig, gpu.index)
        for name, attr in _GPU_FIELDS.items():
            value = getattr(gpu, attr)
            if value is not None:
                by_field[name].append(value)
                yield f"gpu.{name}", subject, float(value)
    for name, values in by_field.items():
        if values:
            if name == "temperature_c":
                value = max(values)  # the hottest GPU is the one to watch
            elif name == "utilization_pct":
                value = sum(values) / len(values)
            else:
                value = sum(values)  # power and VRAM add up
            yield f"rig.{name}", report.rig, float(value)


@dataclass
class FarmSnapshot:
    samples: list[Sample]
    cost_usd_per_h: dict[str, float]  # site (and ALL) -> what its power costs per hour now
    classes: dict[str, list[str]] = field(default_factory=dict)  # replica -> its GPUs' card classes
    sites: dict[str, str] = field(default_factory=dict)  # rig -> site


def farm_snapshot(view: FleetView, fleet: Fleet | None, default_usd_per_kwh: float | None) -> FarmSnapshot:
    """Per site and for the farm: live power, the price and cost of it, GPUs in each state; per
    rig: GPUs in each state. Power counts only GPUs an agent reports on (not the inventory's)."""
    info = {s.name: s for s in fleet.sites} if fleet else {}
    samples: list[Sample] = []
    power: dict[str, float] = {}
    states: dict[str, Counter[str]] = {}
    classes: dict[str, list[str]] = {}
    for g in view.gpus:
        if g.source == "live" and g.power_w is not None:
            power[g.site] = power.get(g.site, 0.0) + g.power_w
        states.setdefault(g.site, Counter())[g.state] += 1
        for replica in g.replicas:
            classes.setdefault(replica, []).append(f"{g.site}/{g.model}")
    for rig in view.rigs:
        for state in GPU_STATES:
            samples.append((f"rig.gpus_{state}", rig.name, float(rig.states.get(state, 0))))
    cost: dict[str, float] = {}
    for site, counts in states.items():
        samples.append(("site.power_w", site, power.get(site, 0.0)))
        for state in GPU_STATES:
            samples.append((f"site.gpus_{state}", site, float(counts[state])))
        site_info = info.get(site)
        price = site_info.power_price_usd_kwh if site_info else None
        price = default_usd_per_kwh if price is None else price
        if price is not None:
            samples.append(("site.price_usd_per_kwh", site, price))
            cost[site] = power.get(site, 0.0) / 1000 * (site_info.pue if site_info else 1.0) * price
    samples.append(("site.power_w", ALL, float(sum(power.values()))))
    for state in GPU_STATES:
        samples.append((f"site.gpus_{state}", ALL, float(sum(c[state] for c in states.values()))))
    if cost:
        cost[ALL] = sum(cost.values())
    return FarmSnapshot(samples, cost, classes, {r.name: r.site for r in view.rigs})


def request_samples(
    record: UsageRecord,
    ttft_s: float,
    prices: TokenPrices,
    classes: Mapping[str, list[str]],
    sites: Mapping[str, str],
) -> tuple[list[Sample], list[tuple[str, str, float]]]:
    """One metered request: (rate samples, durations) for its model, every model, its replica,
    its tenant and the card classes it ran on (revenue split evenly over its GPUs)."""
    samples: list[Sample] = []
    durations: list[tuple[str, str, float]] = []
    for scope, subject in (("model", record.model), ("model", ALL), ("replica", record.replica_id)):
        samples.append((f"{scope}.requests_per_min", subject, 1.0))
        if record.completion_tokens:
            samples.append((f"{scope}.tokens_per_s", subject, float(record.completion_tokens)))
        if record.status >= 500:
            samples.append((f"{scope}.errors_per_min", subject, 1.0))
        durations.append((f"{scope}.latency", subject, record.duration_ms / 1000.0))
        durations.append((f"{scope}.ttft", subject, ttft_s))
    revenue = (prices.batch_revenue_usd if record.batch_id else prices.revenue_usd)(
        record.prompt_tokens, record.completion_tokens
    )
    if revenue:
        samples.append(("tenant.revenue_usd_per_h", record.key_id, revenue))
        samples.append(("tenant.revenue_usd_per_h", ALL, revenue))
        ran_on = classes.get(record.replica_id) or [f"{sites.get(record.rig, 'unassigned')}/unknown"]
        for card_class in ran_on:
            samples.append(("card_class.revenue_usd_per_h", card_class, revenue / len(ran_on)))
        samples.append(("card_class.revenue_usd_per_h", ALL, revenue))
    return samples, durations
