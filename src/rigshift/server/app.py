"""The control plane's app factory: services built once, one router per resource, errors mapped once.

`ROUTERS` is the list of routers every server includes; a new resource is a module under
`rigshift.server.routers` and one line here. Routes call services (`rigshift.server.services`),
which call the stores; `Depends` (`rigshift.server.deps`) says who may call what.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from prometheus_client.core import Metric
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from rigshift.energy.service import EnergyService
from rigshift.errors import RigshiftError
from rigshift.measure.calibrate import toolkit_of
from rigshift.measure.store import MeasurementStore
from rigshift.run.contracts import ReplicaDirectory
from rigshift.run.labels import label_value
from rigshift.run.manager import ReplicaManager
from rigshift.server.adapters_setup import build_adapters
from rigshift.server.alert_rules import AlertLimits
from rigshift.server.batch_dispatch import GatewayDispatcher
from rigshift.server.batch_energy import connect_batches_to_energy
from rigshift.server.batch_runner import BatchRunner
from rigshift.server.body_limit import BodySizeLimit
from rigshift.server.console_auth import SessionStore
from rigshift.server.context import ServerContext
from rigshift.server.db import open_engine
from rigshift.server.deployment_checks import rig_inventory
from rigshift.server.errors import error_response, invalid_request, openai_error
from rigshift.server.file_uploads import FileLimits
from rigshift.server.fleet_source import FleetSource
from rigshift.server.fleet_view import FleetView, build_view
from rigshift.server.gateway import Gateway
from rigshift.server.health import probe_loop
from rigshift.server.metering import default_prices
from rigshift.server.metrics import Metrics, gpu_metrics, replica_metrics
from rigshift.server.routers import adapters as adapters_router
from rigshift.server.routers import (
    anthropic,
    batches,
    console,
    deployments,
    energy,
    farm,
    history,
    internal,
    keys,
    measurements,
    models,
    openai,
    operations,
    ops,
    responses,
    usage,
    usage_report,
)
from rigshift.server.services.adapters import ADAPTER_MAX_BYTES
from rigshift.server.services.alerts import AlertsService
from rigshift.server.services.batches import BatchService
from rigshift.server.services.deployments import DeploymentsService, all_replicas
from rigshift.server.services.energy import EnergyApiService
from rigshift.server.services.history import HistoryService, snapshot_source
from rigshift.server.services.keys import KeysService
from rigshift.server.services.measurements import MeasurementsService, ray_rig_bench
from rigshift.server.services.model_files import ModelFilesService
from rigshift.server.services.operator import OperatorService
from rigshift.server.services.responses import ResponsesService
from rigshift.server.services.telemetry import TelemetryService
from rigshift.server.services.usage import UsageService
from rigshift.server.settings import ServerSettings
from rigshift.server.stores.adapters import AdapterStore
from rigshift.server.stores.alerts import AlertStore
from rigshift.server.stores.audit import AuditLog, DrainStore
from rigshift.server.stores.batches import BatchStore, FileStore
from rigshift.server.stores.deployments import DeploymentLog
from rigshift.server.stores.energy_events import EnergyEventStore
from rigshift.server.stores.file_blobs import files_root
from rigshift.server.stores.history import HistoryStore
from rigshift.server.stores.keys import KeyStore
from rigshift.server.stores.model_files import ModelStore
from rigshift.server.stores.responses import ResponseStore
from rigshift.server.stores.telemetry import TelemetryHub, TelemetryStore
from rigshift.server.stores.usage import UsageStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

# Every server's routers, in the order they are matched. Adding a resource: one line.
ROUTERS: list[APIRouter] = [
    openai.router,
    anthropic.router,
    responses.router,
    adapters_router.router,
    batches.router,
    usage.router,
    keys.router,
    deployments.router,
    models.router,
    internal.router,
    energy.router,
    energy.agent_router,
    ops.router,
    farm.router,
    usage_report.router,
    console.router,
    measurements.router,
    operations.router,
    history.router,
]

__all__ = ["ROUTERS", "all_replicas", "create_app"]

client_log = logging.getLogger("rigshift.server.http")


def create_app(
    directory: ReplicaDirectory,
    settings: ServerSettings | None = None,
    *,
    engine: Engine | None = None,
    clock: Callable[[], float] = time.time,
    manager: ReplicaManager | None = None,
    ray_address: str | None = None,
    routers: Iterable[APIRouter] = (),
    fleet: FleetSource | None = None,
    energy_loop: EnergyService | None = None,
) -> FastAPI:
    """The control plane over `directory`; `routers` are added after `ROUTERS` (extensions, tests).
    `fleet`: what the console and /admin/assess|econ|plan report on (none: they say how to set one)."""
    settings = settings or ServerSettings()
    ctx = build_context(
        directory,
        settings,
        engine or open_engine(settings.db_url),
        clock=clock,
        manager=manager,
        ray_address=ray_address,
        fleet=fleet or FleetSource.none(),
        energy_loop=energy_loop,
    )
    docs = settings.public_docs
    app = FastAPI(
        title="rigshift control plane",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        redoc_url=None,
    )
    app.state.ctx = ctx  # what routes reach through `Depends(context)`, and what `lifespan` runs
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, limit_for=functools.partial(body_limit, settings))
    for router in [*ROUTERS, *routers]:
        app.include_router(router)
    if settings.public_metrics:
        app.include_router(ops.metrics_router)
    app.openapi = functools.partial(openapi_schema, app)  # type: ignore[method-assign]
    return app


def build_context(
    directory: ReplicaDirectory,
    settings: ServerSettings,
    engine: Engine,
    *,
    clock: Callable[[], float],
    manager: ReplicaManager | None,
    ray_address: str | None,
    fleet: FleetSource,
    energy_loop: EnergyService | None,
) -> ServerContext:
    """Every store and service, built once over one database: what the routes are given."""
    # The console's assessment, economics and plans use the measurements this server keeps.
    measurements = MeasurementStore(engine)
    fleet.tools_for = lambda fleet_data: toolkit_of(measurements.list(), fleet_data)
    sessions = SessionStore(clock)
    # The console's sessions of a revoked key end with it.
    keys = KeysService(
        KeyStore(engine), clock, on_revoked=sessions.end_for_key, cache_s=settings.auth_cache_s
    )
    metrics = Metrics()
    gateway = Gateway(directory, keys, UsageStore(engine), metrics, settings, clock=clock)
    if manager is not None:
        drain_before_stop(manager, gateway)
    batch_service, batch_runner = build_batches(engine, gateway, keys, settings, clock, energy_loop)
    history = HistoryService(HistoryStore(engine), clock, default_prices)
    gateway.on_metered = history.observe_request
    telemetry = TelemetryService(
        TelemetryHub(), TelemetryStore(engine), metrics, clock, on_report=history.observe_telemetry
    )
    history.snapshot = snapshot_source(fleet, telemetry, directory, settings.telemetry_stale_s)
    ctx = ServerContext(
        settings=settings,
        clock=clock,
        directory=directory,
        gateway=gateway,
        login_throttle=gateway.login_throttle,  # one count of failures: API, console and /v1
        metrics=metrics,
        keys=keys,
        usage=UsageService(UsageStore(engine), clock),
        deployments=DeploymentsService(
            DeploymentLog(engine),
            directory,
            gateway.router.outstanding,
            clock,
            manager,
            rigs=rig_inventory(manager, fleet.fleet),
        ),
        model_files=ModelFilesService(
            ModelStore(Path(settings.model_store_dir)) if settings.model_store_dir else None
        ),
        telemetry=telemetry,
        history=history,
        batches=batch_service,
        batch_runner=batch_runner,
        ray_address=ray_address,
        fleet=fleet,
        sessions=sessions,
        energy=EnergyApiService(EnergyEventStore(engine), clock, energy_loop),
        responses=ResponsesService(gateway, ResponseStore(engine), clock),
        measurements=MeasurementsService(
            measurements,
            clock,
            ray_rig_bench() if (ray_address or manager) else None,
            on_change=fleet.invalidate,
        ),
    )
    ctx.alerts = build_alerts(engine, ctx)
    ctx.operator = OperatorService(
        AuditLog(engine),
        DrainStore(engine),
        clock,
        keys=keys,
        energy=ctx.energy,
        alerts=ctx.alerts,
        deployments=ctx.deployments,
        measurements=ctx.measurements,
        fleet=fleet,
        router=gateway.router,
    )
    ctx.deployments.drained = ctx.operator.drained
    if manager is not None:  # a lost rig's replicas are not moved onto a drained one
        operator = ctx.operator
        manager.avoid_rigs = lambda: {label_value(rig) for rig in operator.drained()}
    ctx.adapters = build_adapters(AdapterStore(engine), gateway, settings, clock, ctx.deployments)
    metrics.add_scrape_collector(functools.partial(scrape, ctx))
    return ctx


def build_alerts(engine: Engine, ctx: ServerContext) -> AlertsService:
    """The alert rules over the fleet view, the last minutes' usage per model and the energy
    loop's prices (each the same state the console's pages show)."""
    settings = ctx.settings
    limits = AlertLimits(
        stale_after_s=settings.alert_stale_after_s,
        error_rate=settings.alert_error_rate,
        min_requests=settings.alert_min_requests,
        slo_p95_latency_s=settings.alert_slo_p95_latency_s,
        price_ceiling_usd_mwh=settings.alert_price_ceiling_usd_mwh,
    )

    def view() -> FleetView:
        fleet = None
        with contextlib.suppress(RigshiftError):  # a broken fleet file: the live rigs still count
            fleet = ctx.fleet.fleet()
        return build_view(
            fleet,
            ctx.telemetry.latest(),
            all_replicas(ctx.directory),
            now=ctx.clock(),
            stale_s=settings.telemetry_stale_s,
        )

    async def usage_by_model(since: float, now: float) -> list[dict[str, Any]]:
        return list((await ctx.usage.report(since, now, {}))["model"])

    def prices() -> list[dict[str, Any]]:
        loop = ctx.energy.loop if ctx.energy is not None else None
        return list(loop.snapshot()["sites"]) if loop is not None else []

    return AlertsService(
        AlertStore(engine), ctx.clock, limits, view=view, usage_by_model=usage_by_model, site_prices=prices
    )


def build_batches(
    engine: Engine,
    gateway: Gateway,
    keys: KeysService,
    settings: ServerSettings,
    clock: Callable[[], float],
    energy_loop: EnergyService | None,
) -> tuple[BatchService, BatchRunner]:
    """The Batch API's service and the runner that works its lines through the gateway."""
    batch_service = BatchService(
        FileStore(engine, files_root(settings.files_dir, engine)),
        BatchStore(engine),
        clock,
        limits=FileLimits.of(settings),
    )
    dispatcher = GatewayDispatcher(gateway, keys)
    batch_runner = BatchRunner(
        batch_service, dispatcher, concurrency=settings.batch_concurrency, poll_s=settings.batch_poll_s
    )
    if energy_loop is not None:
        connect_batches_to_energy(batch_runner, dispatcher, energy_loop, default_prices())
    return batch_service, batch_runner


def drain_before_stop(manager: ReplicaManager, gateway: Gateway) -> None:
    """The manager stops a replica only when the gateway has nothing in flight there."""
    if getattr(manager, "in_flight", False) is None:
        outstanding = gateway.router.outstanding
        manager.in_flight = lambda replica_id: outstanding.get(replica_id, 0)


def scrape(ctx: ServerContext) -> Iterable[Metric]:
    """Metrics read at scrape time: replica states and load, and the GPUs' latest telemetry."""
    states = [(r.replica_id, r.model, r.rig, r.state) for r in all_replicas(ctx.directory)]
    return [
        *replica_metrics(states, ctx.gateway.router.outstanding),
        *gpu_metrics(ctx.telemetry.hub.readings(), ctx.clock()),
    ]


async def evaluate_alerts(ctx: ServerContext) -> None:
    """Evaluate the alert rules every `alerts_eval_s`, so history is kept with no one watching."""
    assert ctx.alerts is not None
    while True:
        with contextlib.suppress(Exception):  # a locked DB or a broken input: the next round retries
            await ctx.alerts.evaluate()
        await asyncio.sleep(ctx.settings.alerts_eval_s)


async def flush_telemetry(ctx: ServerContext) -> None:
    """Write the agents' latest telemetry to the database every `telemetry_flush_s`."""
    await _every(ctx.settings.telemetry_flush_s, ctx.telemetry.flush)


async def flush_history(ctx: ServerContext) -> None:
    """Snapshot the farm and write the history's rolled-up points every `history_flush_s`."""
    await _every(ctx.settings.history_flush_s, ctx.history.flush)


async def _every(interval_s: float, flush: Callable[[], Awaitable[None]]) -> None:
    while True:
        await asyncio.sleep(interval_s)
        with contextlib.suppress(Exception):  # a locked DB must not kill ingest; next round retries
            await flush()


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the gateway, the background loops and the batch runner; stop them in reverse."""
    ctx: ServerContext = app.state.ctx
    settings = ctx.settings
    await ctx.telemetry.load()
    await ctx.gateway.start()
    # Move everything built at start-up (routes, models, metrics, catalogs) out of the
    # collector's reach: full collections then scan only per-request garbage, instead of
    # pausing the loop for tens of milliseconds under load (seen as commit waits in the bench).
    gc.collect()
    gc.freeze()
    # Warm the price list (econ's defaults take ~1 s to load) without delaying start-up.
    asyncio.get_running_loop().run_in_executor(None, default_prices)
    # Load, assess and price the fleet in the background: the console's first paint must not
    # wait for the ~2 s this takes on the demo farm.
    asyncio.get_running_loop().run_in_executor(None, _warm, ctx.fleet)
    flusher = asyncio.create_task(flush_telemetry(ctx))
    if ctx.operator is not None:
        await ctx.operator.load_drains()  # drained rigs stay drained across restarts
    alerter = asyncio.create_task(evaluate_alerts(ctx)) if ctx.alerts is not None else None
    history_flusher = asyncio.create_task(flush_history(ctx))
    prober = asyncio.create_task(
        probe_loop(ctx.directory, settings.health_probe_s, settings.connect_timeout_s)
    )
    # Before any request: uploads a stop cut off are deleted, and files kept in database
    # rows by an older version move to the file directory (nothing is served in between).
    await anyio.to_thread.run_sync(ctx.batches.files.blobs.sweep_partials)
    await anyio.to_thread.run_sync(ctx.batches.files.adopt_legacy)
    ctx.batch_runner.start()
    try:
        yield
    finally:
        flusher.cancel()
        history_flusher.cancel()
        prober.cancel()
        if alerter is not None:
            alerter.cancel()
        await ctx.batch_runner.stop()
        if ctx.responses is not None:
            await ctx.responses.stop()
        await ctx.gateway.stop()
        with contextlib.suppress(Exception):
            await ctx.telemetry.flush()
        with contextlib.suppress(Exception):
            await ctx.history.flush(everything=True)


def body_limit(settings: ServerSettings, path: str) -> int:
    """The largest request body `path` accepts."""
    if path.startswith("/admin/models/"):
        return settings.max_upload_bytes
    if path == "/v1/adapters":
        return ADAPTER_MAX_BYTES
    if path == "/v1/files":
        return settings.files_max_file_bytes + 64 * 1024  # the file plus its multipart envelope
    return settings.max_body_bytes


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the OpenAI routes' bodies (built once, on first request)."""
    if app.openapi_schema is None:
        app.openapi_schema = openai.add_openai_paths(
            get_openapi(title=app.title, version=app.version, routes=app.routes)
        )
    return app.openapi_schema


def _warm(fleet: FleetSource) -> None:
    with contextlib.suppress(Exception):  # a broken fleet file is reported by the routes that need it
        fleet.warm()


def install_error_handlers(app: FastAPI) -> None:
    """Every error a client can cause leaves in OpenAI's shape: never a plain-text or HTML 500."""

    @app.exception_handler(RigshiftError)
    async def _rigshift_error(_request: Request, error: RigshiftError) -> Response:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        # The route's body model, for an unknown key's did-you-mean.
        body = getattr(request.scope.get("route"), "body_field", None)
        model = body.field_info.annotation if body is not None else None
        return invalid_request(
            error, model if isinstance(model, type) and issubclass(model, BaseModel) else None
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> Response:
        kind = "invalid_request_error" if error.status_code < 500 else "server_error"
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code)
        return openai_error(error.status_code, str(error.detail), type=kind, code=code)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, _error: ClientDisconnect) -> Response:
        # The client closed the connection before sending its whole body: nothing to answer, and
        # not the server's error (it was logged as an ERROR traceback).
        client_log.info(
            "client disconnected before its request was read: %s %s", request.method, request.url.path
        )
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, error: Exception) -> Response:
        # A bug, not the client's doing; still JSON in OpenAI's shape, never a traceback.
        return openai_error(
            500, f"internal error: {type(error).__name__}", type="server_error", code="internal"
        )
