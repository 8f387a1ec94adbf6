"""Prometheus metrics: requests, tokens, latency, replica states, GPU telemetry.

Each app gets its own registry (tests build several apps in one process). Replica states and GPU
telemetry are read at scrape time from the directory and the telemetry hub, so ingesting a
report costs a dict update, not a metric update per field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rigshift.run.contracts import GpuTelemetry

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
TELEMETRY_FIELDS = (
    "temperature_c",
    "power_w",
    "power_limit_w",
    "utilization_pct",
    "memory_used_gib",
    "memory_total_gib",
    "memory_used_by_others_gib",
)


class _ScrapeTimeCollector(Collector):
    def __init__(self, collect: Callable[[], Iterable[Metric]]):
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return self._collect()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rigshift_requests",
            "Gateway requests by outcome",
            ["model", "endpoint", "status"],
            registry=self.registry,
        )
        self.tokens = Counter("rigshift_tokens", "Tokens metered", ["model", "kind"], registry=self.registry)
        self.latency = Histogram(
            "rigshift_request_duration_seconds",
            "Time from request to last byte",
            ["model", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.first_byte = Histogram(
            "rigshift_time_to_first_byte_seconds",
            "Time from request to the backend's first streamed byte",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.usage_commit = Histogram(
            "rigshift_usage_commit_seconds",
            "How long a request waited for its usage record to be committed",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
            registry=self.registry,
        )
        self.retries = Counter(
            "rigshift_retries",
            "Requests moved to another replica after a failure",
            ["model"],
            registry=self.registry,
        )
        self.telemetry_reports = Counter(
            "rigshift_telemetry_reports", "Telemetry reports ingested", registry=self.registry
        )

    def observe_request(
        self, model: str, endpoint: str, status: int, prompt: int, completion: int, duration_s: float
    ) -> None:
        self.requests.labels(model, endpoint, str(status)).inc()
        if prompt:
            self.tokens.labels(model, "prompt").inc(prompt)
        if completion:
            self.tokens.labels(model, "completion").inc(completion)
        self.latency.labels(model, endpoint).observe(duration_s)

    def add_scrape_collector(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self.registry.register(_ScrapeTimeCollector(collect))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def replica_metrics(states: Iterable[tuple[str, str, str, str]], outstanding: dict[str, int]) -> list[Metric]:
    """states: (replica_id, model, rig, state) for every known replica."""
    state_family = GaugeMetricFamily(
        "rigshift_replica_state",
        "1 for the state each replica is in",
        labels=["replica", "model", "rig", "state"],
    )
    busy = GaugeMetricFamily(
        "rigshift_replica_outstanding_requests", "Requests in flight per replica", labels=["replica", "model"]
    )
    for replica_id, model, rig, state in states:
        state_family.add_metric([replica_id, model, rig, state], 1.0)
        busy.add_metric([replica_id, model], float(outstanding.get(replica_id, 0)))
    return [state_family, busy]


def gpu_metrics(latest: Iterable[tuple[str, float, GpuTelemetry]], now: float) -> list[Metric]:
    """latest: (rig, received_at, gpu reading) for every GPU that has reported."""
    families = {
        name: GaugeMetricFamily(
            f"rigshift_gpu_{name}", f"GPU {name.replace('_', ' ')}", labels=["rig", "gpu", "model"]
        )
        for name in TELEMETRY_FIELDS
    }
    age = GaugeMetricFamily(
        "rigshift_gpu_report_age_seconds",
        "Seconds since the GPU last reported",
        labels=["rig", "gpu", "model"],
    )
    for rig, received_at, gpu in latest:
        labels = [rig, str(gpu.index), gpu.model or ""]
        for name, family in families.items():
            value = getattr(gpu, name)
            if value is not None:
                family.add_metric(labels, float(value))
        age.add_metric(labels, max(0.0, now - received_at))
    return [*families.values(), age]
