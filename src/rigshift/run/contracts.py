"""The seam between the data plane (Ray, replicas, backends) and the control plane (gateway).

The gateway only ever sees `ReplicaEndpoint`s through a `ReplicaDirectory`; the data plane
implements the directory over Ray, tests implement it over a static list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

ReplicaState = Literal["starting", "ready", "unhealthy", "draining", "stopped"]


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
    # chat, completion, embeddings, rerank, tools, structured_output (run/capabilities.py);
    # empty: not said, taken as a chat model's
    capabilities: tuple[str, ...] = ()


class ReplicaDirectory(Protocol):
    """What the gateway needs to know about running replicas."""

    def models(self) -> list[str]: ...

    def ready_replicas(self, model: str) -> list[ReplicaEndpoint]: ...

    def report_failure(self, replica_id: str, error: str) -> None:
        """The gateway saw this replica fail before the first byte; the data plane may restart it."""
        ...


# --- Telemetry: what `rigshift agent` posts to the control plane every few seconds -------------
# Added by the control-plane half (POST /internal/telemetry, `Authorization: Bearer JOIN_TOKEN`).
# Pydantic so the server validates the JSON body in one Rust-side pass (cheap at 2,000 GPUs / 5 s).

from pydantic import BaseModel, ConfigDict  # noqa: E402


class GpuTelemetry(BaseModel):
    """One GPU's readings at one moment (NVML / amdsmi); None where the driver does not say."""

    model_config = ConfigDict(extra="ignore")

    index: int
    uuid: str | None = None
    model: str | None = None  # catalog key from the fleet probe, never Ray's accelerator type
    temperature_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    utilization_pct: float | None = None
    memory_used_gib: float | None = None
    memory_total_gib: float | None = None
    memory_used_by_others_gib: float | None = None  # VRAM held by processes that are not ours


class RigTelemetry(BaseModel):
    """One agent report: every GPU on one rig."""

    model_config = ConfigDict(extra="ignore")

    rig: str
    timestamp: float  # unix seconds on the rig
    gpus: list[GpuTelemetry]
