"""Everything a request may need, built once by the app factory and reached through `Depends`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from rigshift.run.contracts import ReplicaDirectory
from rigshift.server.gateway import Gateway
from rigshift.server.metrics import Metrics
from rigshift.server.services.deployments import DeploymentsService
from rigshift.server.services.keys import KeysService
from rigshift.server.services.measurements import MeasurementsService
from rigshift.server.services.model_files import ModelFilesService
from rigshift.server.services.telemetry import TelemetryService
from rigshift.server.services.usage import UsageService
from rigshift.server.settings import ServerSettings


@dataclass
class ServerContext:
    settings: ServerSettings
    clock: Callable[[], float]
    directory: ReplicaDirectory
    gateway: Gateway
    metrics: Metrics
    keys: KeysService
    usage: UsageService
    deployments: DeploymentsService
    model_files: ModelFilesService
    telemetry: TelemetryService
    ray_address: str | None = None
    measurements: MeasurementsService | None = None


def context(request: Request) -> ServerContext:
    """The app's context (a FastAPI dependency, and what plain routes call directly)."""
    ctx: ServerContext = request.app.state.ctx
    return ctx
