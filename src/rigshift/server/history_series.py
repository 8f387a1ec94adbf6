"""What the history keeps: its series, their units, the rollup tiers and the chart ranges. Pure.

A series is a name (`gpu.power_w`) and a subject (which GPU, rig, site, model, replica, tenant or
card class it is about; `*` for the whole farm or every model). Each is kept at three
resolutions, each for as long as the views that read it need:

| tier   | kept for | read by                        |
|--------|----------|--------------------------------|
| 1 min  | 2 h      | the 1 h view (60 points)       |
| 15 min | 2 days   | the 24 h view (96 points)      |
| 1 h    | 31 days  | the 7 d and 30 d views (168, 720 points) |

A stored point holds a bucket's count, sum, min and max, so points written in pieces (every flush,
or before and after a restart) add up. What a point means depends on the series' kind:
- `gauge`: the mean of the samples in the bucket (power, temperature);
- `rate`: the bucket's sum per `per_s` seconds (tokens/s, requests/min, USD/h);
- `quantile`: the bucket's percentile, recomputed whole at each flush (p50/p95 latency).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["gauge", "rate", "quantile"]
Scope = Literal["gpu", "rig", "site", "model", "replica", "tenant", "card_class"]

MINUTE, QUARTER, HOUR = 60, 900, 3600
RESOLUTIONS = (MINUTE, QUARTER, HOUR)
RETENTION_S = {MINUTE: 2 * 3600, QUARTER: 2 * 86400, HOUR: 31 * 86400}
RANGES = {"1h": (3600, MINUTE), "24h": (86400, QUARTER), "7d": (7 * 86400, HOUR), "30d": (30 * 86400, HOUR)}
ALL = "*"  # the subject of a farm-wide (site scope) or every-model/tenant/class series
# The query parameters that pick a series' subject, per scope (gpu: rig and gpu index).
SCOPE_PARAMS: dict[Scope, tuple[str, ...]] = {
    "gpu": ("rig", "gpu"),
    "rig": ("rig",),
    "site": ("site",),
    "model": ("model",),
    "replica": ("replica",),
    "tenant": ("tenant",),
    "card_class": ("card_class",),
}
# Scopes whose subject may be left out: the farm, every model / tenant / card class together.
TOTAL_SCOPES = frozenset({"site", "model", "tenant", "card_class"})


@dataclass(frozen=True)
class SeriesDef:
    name: str
    unit: str
    kind: Kind
    scope: Scope
    description: str
    per_s: float = 1.0  # rate series: the sum per this many seconds

    def value(self, n: float, total: float, resolution: int) -> float | None:
        """The point a stored bucket stands for."""
        if self.kind == "rate":
            return total / resolution * self.per_s
        return total / n if n else None


def _gpu_and_rig(field: str, unit: str, what: str, rig_what: str) -> list[SeriesDef]:
    return [
        SeriesDef(f"gpu.{field}", unit, "gauge", "gpu", f"{what} of one GPU (its agent's reports)"),
        SeriesDef(f"rig.{field}", unit, "gauge", "rig", f"{rig_what} (its agent's reports)"),
    ]


def _serving(scope: Scope, whose: str) -> list[SeriesDef]:
    return [
        SeriesDef(f"{scope}.tokens_per_s", "tokens/s", "rate", scope, f"completion tokens served by {whose}"),
        SeriesDef(f"{scope}.requests_per_min", "requests/min", "rate", scope, f"requests to {whose}", 60),
        SeriesDef(
            f"{scope}.errors_per_min", "errors/min", "rate", scope, f"requests to {whose} that failed", 60
        ),
        SeriesDef(f"{scope}.ttft_p50_s", "s", "quantile", scope, f"median time to first token, {whose}"),
        SeriesDef(
            f"{scope}.ttft_p95_s", "s", "quantile", scope, f"95th percentile time to first token, {whose}"
        ),
        SeriesDef(f"{scope}.latency_p50_s", "s", "quantile", scope, f"median request latency, {whose}"),
        SeriesDef(
            f"{scope}.latency_p95_s", "s", "quantile", scope, f"95th percentile request latency, {whose}"
        ),
    ]


GPU_STATES = ("serving", "mining", "idle", "lost")

SERIES: dict[str, SeriesDef] = {
    s.name: s
    for s in [
        *_gpu_and_rig("power_w", "W", "power draw", "power draw of the rig's GPUs together"),
        *_gpu_and_rig("temperature_c", "°C", "temperature", "hottest GPU of the rig"),
        *_gpu_and_rig("utilization_pct", "%", "utilisation", "mean utilisation of the rig's GPUs"),
        *_gpu_and_rig("vram_used_gib", "GiB", "VRAM in use", "VRAM in use on the rig's GPUs together"),
        *[
            SeriesDef(f"rig.gpus_{state}", "GPUs", "gauge", "rig", f"the rig's GPUs {state}")
            for state in GPU_STATES
        ],
        SeriesDef("site.power_w", "W", "gauge", "site", "power draw of a site's GPUs (all sites: the farm)"),
        SeriesDef("site.price_usd_per_kwh", "USD/kWh", "gauge", "site", "the power price a site pays"),
        SeriesDef(
            "site.cost_usd_per_h",
            "USD/h",
            "rate",
            "site",
            "what a site's power costs, at its price and PUE",
            3600,
        ),
        *[
            SeriesDef(
                f"site.gpus_{state}", "GPUs", "gauge", "site", f"a site's GPUs {state} (all sites: the farm)"
            )
            for state in GPU_STATES
        ],
        *_serving("model", "a model's replicas (all models: the gateway)"),
        *_serving("replica", "one replica"),
        SeriesDef(
            "tenant.revenue_usd_per_h", "USD/h", "rate", "tenant", "token revenue from one API key", 3600
        ),
        SeriesDef(
            "card_class.revenue_usd_per_h",
            "USD/h",
            "rate",
            "card_class",
            "token revenue earned on one card class (site/GPU model)",
            3600,
        ),
    ]
}


def bucket_of(at: float, resolution: int) -> int:
    return int(at // resolution) * resolution


def gpu_subject(rig: str, index: int) -> str:
    return f"{rig}/{index}"
