"""Everything a request may need, built once by the app factory and reached through `Depends`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request

from rigshift.run.contracts import ReplicaDirectory
from rigshift.server.batch_runner import BatchRunner
from rigshift.server.console_auth import SessionStore
from rigshift.server.fleet_source import FleetSource
from rigshift.server.gateway import Gateway
from rigshift.server.login_throttle import LoginThrottle
from rigshift.server.metrics import Metrics
from rigshift.server.services.adapters import AdapterService
from rigshift.server.services.alerts import AlertsService
from rigshift.server.services.batches import BatchService
from rigshift.server.services.deployments import DeploymentsService
from rigshift.server.services.energy import EnergyApiService
from rigshift.server.services.history import HistoryService
from rigshift.server.services.keys import KeysService
from rigshift.server.services.measurements import MeasurementsService
from rigshift.server.services.model_files import ModelFilesService
from rigshift.server.services.operator import OperatorService
from rigshift.server.services.responses import ResponsesService
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
    batches: BatchService
    batch_runner: BatchRunner
    history: HistoryService
    ray_address: str | None = None
    # The console's: the fleet the server reports on (--fleet, or the demo farm) and its sessions.
    fleet: FleetSource = field(default_factory=FleetSource.none)
    sessions: SessionStore | None = None
    energy: EnergyApiService | None = None
    measurements: MeasurementsService | None = None
    responses: ResponsesService | None = None  # the Responses API (POST/GET/DELETE /v1/responses)
    adapters: AdapterService | None = None  # tenants' LoRA adapters
    # Failed key checks per client address (deps.tenant_key, the console's login).
    login_throttle: LoginThrottle = field(default_factory=lambda: LoginThrottle(time.monotonic))
    alerts: AlertsService | None = None
    operator: OperatorService | None = None


def context(request: Request) -> ServerContext:
    """The app's context (a FastAPI dependency, and what plain routes call directly)."""
    ctx: ServerContext = request.app.state.ctx
    return ctx
