"""A `ReplicaDirectory` over a fixed list: tests, benchmarks, and `rigshift server --backend`.

A replica the gateway reports (it did not answer at all) is out of rotation until its health
probe (`GET /health`, run by `rigshift.server.health.probe_loop`) answers 200 again, probed no
sooner than `cooldown_s` after the failure. What a request gets back never marks a replica: the
circuit breaks on health, not on what a client sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from rigshift.errors import InputError
from rigshift.run.contracts import ReplicaEndpoint


class StaticDirectory:
    def __init__(
        self,
        replicas: Iterable[ReplicaEndpoint],
        *,
        cooldown_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._replicas = {r.replica_id: r for r in replicas}
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.failures: list[tuple[str, str]] = []
        self._down_since: dict[str, float] = {}

    def models(self) -> list[str]:
        return sorted({r.model for r in self._replicas.values()})

    def ready_replicas(self, model: str) -> list[ReplicaEndpoint]:
        return [
            r
            for r in self._replicas.values()
            if r.model == model and r.state == "ready" and r.replica_id not in self._down_since
        ]

    def replicas(self) -> list[ReplicaEndpoint]:
        return [
            replace(r, state="unhealthy") if r.replica_id in self._down_since else r
            for r in self._replicas.values()
        ]

    def report_failure(self, replica_id: str, error: str) -> None:
        self.failures.append((replica_id, error))
        self._down_since.setdefault(replica_id, self.clock())

    def suspects(self) -> list[ReplicaEndpoint]:
        """Replicas out of rotation whose health is due to be probed again."""
        now = self.clock()
        return [
            self._replicas[rid]
            for rid, since in self._down_since.items()
            if rid in self._replicas and since + self.cooldown_s <= now
        ]

    def mark_healthy(self, replica_id: str) -> None:
        """Its health probe answered: back in rotation."""
        self._down_since.pop(replica_id, None)

    def set(self, replica: ReplicaEndpoint) -> None:
        self._replicas[replica.replica_id] = replica

    def remove(self, replica_id: str) -> None:
        self._replicas.pop(replica_id, None)


def parse_backend(spec: str, index: int) -> ReplicaEndpoint:
    """`MODEL=URL[,parallel=N][,context=N][,watts=W][,rig=NAME]` -> a ready replica."""
    head, *options = spec.split(",")
    model, sep, url = head.partition("=")
    if not sep or not model or not url.startswith(("http://", "https://")):
        raise InputError(
            f"cannot read backend {spec!r}",
            field="--backend",
            expected="MODEL=http://HOST:PORT[,parallel=N][,context=N][,watts=W][,rig=NAME]",
        )
    values: dict[str, str] = {}
    for option in options:
        name, _, value = option.partition("=")
        if name not in ("parallel", "context", "watts", "rig"):
            raise InputError(
                f"unknown backend option {name!r}",
                field="--backend",
                expected="parallel, context, watts or rig",
            )
        values[name] = value
    try:
        return ReplicaEndpoint(
            replica_id=f"static-{index}",
            deployment="static",
            model=model,
            base_url=url,
            rig=values.get("rig", "local"),
            state="ready",
            max_parallel=int(values.get("parallel", "1")),
            context=int(values.get("context", "4096")),
            watts=float(values["watts"]) if "watts" in values else None,
        )
    except ValueError as error:
        raise InputError(f"bad number in backend {spec!r}: {error}", field="--backend") from error
