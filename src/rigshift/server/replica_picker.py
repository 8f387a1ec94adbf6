"""Pick a replica for a request: least outstanding requests per backend slot.

The gateway counts requests it has in flight per replica (it is the only path to them), so the
choice needs no round trip. A replica is saturated when its outstanding requests reach
`max_parallel x queue_factor` (its slots plus a short queue in llama-server); when every ready
replica is saturated the caller answers 429 with Retry-After instead of queueing unboundedly.
Replicas on a rig an operator drained (`drained`, kept by the operator service) get no new request;
those in flight finish.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from rigshift.run.contracts import ReplicaDirectory, ReplicaEndpoint


@dataclass(frozen=True)
class Choice:
    outcome: Literal["ok", "unknown_model", "no_ready_replica", "saturated"]
    replica: ReplicaEndpoint | None = None


class Router:
    def __init__(self, directory: ReplicaDirectory, queue_factor: float = 2.0):
        self.directory = directory
        self.queue_factor = queue_factor
        self.outstanding: dict[str, int] = {}
        self.drained: frozenset[str] = frozenset()  # rig names: no new request goes there
        self._turn = 0  # rotates ties so equal replicas share load instead of the first taking all

    def capacity(self, replica: ReplicaEndpoint) -> int:
        return max(1, int(replica.max_parallel * self.queue_factor))

    def choose(self, model: str, exclude: Collection[str] = ()) -> Choice:
        drained = self.drained
        ready = [
            r
            for r in self.directory.ready_replicas(model)
            if r.replica_id not in exclude and r.rig not in drained
        ]
        if not ready:
            if not exclude and model not in self.directory.models():
                return Choice("unknown_model")
            return Choice("no_ready_replica")
        self._turn += 1
        best: ReplicaEndpoint | None = None
        best_load = 0.0
        for offset in range(len(ready)):
            replica = ready[(self._turn + offset) % len(ready)]
            busy = self.outstanding.get(replica.replica_id, 0)
            if busy >= self.capacity(replica):
                continue
            load = busy / max(1, replica.max_parallel)
            if best is None or load < best_load:
                best, best_load = replica, load
        if best is None:
            return Choice("saturated")
        return Choice("ok", best)

    def acquire(self, replica_id: str) -> int:
        """Count one more request on the replica; returns how many are now in flight there."""
        n = self.outstanding.get(replica_id, 0) + 1
        self.outstanding[replica_id] = n
        return n

    def release(self, replica_id: str) -> None:
        n = self.outstanding.get(replica_id, 0) - 1
        if n <= 0:
            self.outstanding.pop(replica_id, None)
        else:
            self.outstanding[replica_id] = n
