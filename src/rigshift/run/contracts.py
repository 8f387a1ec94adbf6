"""The seam between the data plane (Ray, replicas, backends) and the control plane (gateway).

The gateway only ever sees `ReplicaEndpoint`s through a `ReplicaDirectory`; the data plane
implements the directory over Ray, tests implement it over a static list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

ReplicaState = Literal["starting", "ready", "unhealthy", "stopped"]


@dataclass(frozen=True)
class ReplicaEndpoint:
    replica_id: str
    deployment: str
    model: str  # the name clients use in "model": ...
    base_url: str  # the backend's OpenAI-compatible root, e.g. "http://127.0.0.1:8081"
    rig: str
    gpus: tuple[str, ...] = ()  # GPU uuids or "rig/index"
    state: ReplicaState = "starting"
    max_parallel: int = 1  # requests the backend runs at once (llama-server slots)
    context: int = 4096  # tokens per sequence
    watts: float | None = None  # expected draw while serving, for energy metering
    labels: dict[str, str] = field(default_factory=dict)


class ReplicaDirectory(Protocol):
    """What the gateway needs to know about running replicas."""

    def models(self) -> list[str]: ...

    def ready_replicas(self, model: str) -> list[ReplicaEndpoint]: ...

    def report_failure(self, replica_id: str, error: str) -> None:
        """The gateway saw this replica fail before the first byte; the data plane may restart it."""
        ...
