"""The control plane's FastAPI app: OpenAI gateway, management API, telemetry ingest, metrics.

Routes are thin: each calls the gateway or a store. Management routes need an admin key;
`/internal/telemetry` needs the cluster's join token; `/v1/*` needs a tenant key.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from prometheus_client.core import Metric
from pydantic import ValidationError
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from rigshift.errors import RigshiftError
from rigshift.run.contracts import ReplicaDirectory, ReplicaEndpoint, RigTelemetry
from rigshift.run.manager import ReplicaManager
from rigshift.run.spec import from_json as spec_from_json
from rigshift.run.spec import to_dict as spec_to_dict
from rigshift.server.console_auth import SessionStore
from rigshift.server.db import open_engine
from rigshift.server.deployments import DeploymentLog
from rigshift.server.errors import openai_error
from rigshift.server.fleet_source import FleetSource
from rigshift.server.gateway import Gateway
from rigshift.server.keys import ApiKey, KeyStore
from rigshift.server.metering import default_prices
from rigshift.server.metrics import Metrics, gpu_metrics, replica_metrics
from rigshift.server.model_store import HashingWriter, ModelStore
from rigshift.server.principal import AuthProblem, resolve_caller
from rigshift.server.routers import console as console_router
from rigshift.server.routers import farm as farm_router
from rigshift.server.routers import usage_report as usage_report_router
from rigshift.server.settings import ServerSettings
from rigshift.server.telemetry import TelemetryHub, TelemetryStore
from rigshift.server.usage import UsageStore
from rigshift.server.when import parse_since


def all_replicas(directory: ReplicaDirectory) -> list[ReplicaEndpoint]:
    """Every replica the directory knows; data-plane directories may offer `replicas()` with states."""
    listing = getattr(directory, "replicas", None)
    if callable(listing):
        return list(listing())
    return [r for m in directory.models() for r in directory.ready_replicas(m)]


def create_app(
    directory: ReplicaDirectory,
    settings: ServerSettings | None = None,
    *,
    engine: Engine | None = None,
    clock: Callable[[], float] = time.time,
    manager: ReplicaManager | None = None,
    ray_address: str | None = None,
    fleet: FleetSource | None = None,
) -> FastAPI:
    settings = settings or ServerSettings()
    fleet = fleet or FleetSource.none()
    engine = engine or open_engine(settings.db_url)
    keys, usage, log = KeyStore(engine), UsageStore(engine), DeploymentLog(engine)
    telemetry, telemetry_store = TelemetryHub(), TelemetryStore(engine)
    metrics = Metrics()
    gateway = Gateway(directory, keys, usage, metrics, settings, clock=clock)

    def scrape() -> Iterable[Metric]:
        states = [(r.replica_id, r.model, r.rig, r.state) for r in all_replicas(directory)]
        return [
            *replica_metrics(states, gateway.router.outstanding),
            *gpu_metrics(telemetry.readings(), clock()),
        ]

    metrics.add_scrape_collector(scrape)

    async def flush_telemetry() -> None:
        await anyio.to_thread.run_sync(telemetry_store.save, telemetry.take_dirty())

    async def flush_loop() -> None:
        while True:
            await asyncio.sleep(settings.telemetry_flush_s)
            with contextlib.suppress(Exception):  # a locked DB must not kill ingest; next round retries
                await flush_telemetry()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for received_at, report in await anyio.to_thread.run_sync(telemetry_store.load):
            telemetry.latest.setdefault(report.rig, (received_at, report))
        await gateway.start()
        # Move everything built at start-up (routes, models, metrics, catalogs) out of the
        # collector's reach: full collections then scan only per-request garbage, instead of
        # pausing the loop for tens of milliseconds under load (seen as commit waits in the bench).
        gc.collect()
        gc.freeze()
        # Warm the price list (econ's defaults take ~1 s to load) without delaying start-up.
        asyncio.get_running_loop().run_in_executor(None, default_prices)
        # Load, assess and price the fleet in the background: the console's first paint must not
        # wait for the ~2 s this takes on the demo farm.
        asyncio.get_running_loop().run_in_executor(None, _warm, fleet)
        flusher = asyncio.create_task(flush_loop())
        try:
            yield
        finally:
            flusher.cancel()
            await gateway.stop()
            await flush_telemetry()

    app = FastAPI(title="rigshift control plane", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.gateway = gateway
    app.state.engine = engine
    app.state.telemetry = telemetry
    app.state.log = log
    app.state.keys = keys
    app.state.directory = directory
    app.state.replicas = lambda: all_replicas(directory)
    app.state.settings = settings
    app.state.clock = clock
    app.state.fleet_source = fleet
    app.state.sessions = sessions = SessionStore(clock)
    for router in (console_router.router, farm_router.router, usage_report_router.router):
        app.include_router(router)

    @app.exception_handler(AuthProblem)
    async def _auth_problem(_request: Request, problem: AuthProblem) -> Response:
        return openai_error(problem.status, problem.message, type=problem.type, code=problem.code)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return openai_error(400, f"{where}: {first['msg']}", param=where)

    @app.exception_handler(RigshiftError)
    async def _rigshift_error(_request: Request, error: RigshiftError) -> Response:
        return openai_error(error.http_status, str(error), type=type(error).__name__)

    # --- OpenAI-compatible gateway ---------------------------------------------------------
    # Plain Starlette routes for the hot path: FastAPI's dependency solving per request costs
    # more than the routing itself, and these handlers only need the raw request.
    async def models(request: Request) -> Response:
        return await gateway.list_models(request)

    async def chat(request: Request) -> Response:
        return await gateway.handle(request, "chat")

    async def completions(request: Request) -> Response:
        return await gateway.handle(request, "completions")

    async def embeddings(request: Request) -> Response:
        return await gateway.handle(request, "embeddings")

    app.add_route("/v1/models", models, methods=["GET"], include_in_schema=False)
    app.add_route("/v1/chat/completions", chat, methods=["POST"], include_in_schema=False)
    app.add_route("/v1/completions", completions, methods=["POST"], include_in_schema=False)
    app.add_route("/v1/embeddings", embeddings, methods=["POST"], include_in_schema=False)

    @app.get("/v1/usage")
    async def tenant_usage(request: Request, by: str = "model", since: str | None = None) -> Response:
        """A tenant's own usage; an admin key sees everyone's."""
        key = await gateway.authenticate(request)
        if key is None:
            return openai_error(
                401,
                "missing, unknown or revoked API key",
                type="authentication_error",
                code="invalid_api_key",
            )
        now = clock()
        start = parse_since(since, now) if since else None
        rows = await anyio.to_thread.run_sync(
            lambda: usage.summarise(
                by, default_prices(), since=start, key_id=None if key.admin else key.id, now=now
            )
        )
        return JSONResponse({"object": "list", "by": by, "since": start, "data": [asdict(r) for r in rows]})

    # --- management API (admin key) -----------------------------------------------------------
    async def admin(request: Request) -> ApiKey | Response:
        """An admin's Bearer key or console session (CSRF-checked on changes)."""
        try:
            found = await resolve_caller(request)
        except AuthProblem as problem:
            return openai_error(problem.status, problem.message, type=problem.type, code=problem.code)
        key = found.key if found else None
        if key is None:
            return openai_error(
                401,
                "missing, unknown or revoked API key",
                type="authentication_error",
                code="invalid_api_key",
            )
        if not key.admin:
            return openai_error(403, "this endpoint needs an admin key", type="permission_error")
        return key

    @app.post("/admin/keys")
    async def create_key(request: Request) -> Response:
        who = await admin(request)
        if isinstance(who, Response):
            return who
        body: dict[str, Any] = json.loads(await request.body() or b"{}")
        key, secret = await anyio.to_thread.run_sync(
            lambda: keys.create(
                str(body.get("name", "")),
                now=clock(),
                admin=bool(body.get("admin", False)),
                allowed_models=body.get("allowed_models") or ["*"],
                token_quota=body.get("token_quota"),
                quota_period=str(body.get("quota_period", "month")),
                rate_limit_rpm=body.get("rate_limit_rpm"),
            )
        )
        return JSONResponse({**_key_json(key), "key": secret}, status_code=201)

    @app.get("/admin/keys")
    async def list_keys(request: Request) -> Response:
        who = await admin(request)
        if isinstance(who, Response):
            return who
        listed = await anyio.to_thread.run_sync(keys.list)
        return JSONResponse({"data": [_key_json(k) for k in listed]})

    @app.delete("/admin/keys/{key_ref}")
    async def revoke_key(key_ref: str, request: Request) -> Response:
        who = await admin(request)
        if isinstance(who, Response):
            return who
        key = await anyio.to_thread.run_sync(lambda: keys.revoke(key_ref, now=clock()))
        gateway.forget_key(key.id)
        sessions.end_for_key(key.id)
        return JSONResponse(_key_json(key))

    @app.get("/admin/usage")
    async def admin_usage(request: Request, by: str = "key", since: str | None = None) -> Response:
        who = await admin(request)
        if isinstance(who, Response):
            return who
        now = clock()
        start = parse_since(since, now) if since else None
        rows = await anyio.to_thread.run_sync(
            lambda: usage.summarise(by, default_prices(), since=start, now=now)
        )
        return JSONResponse({"by": by, "since": start, "data": [asdict(r) for r in rows]})

    @app.get("/admin/replicas")
    async def list_replicas(request: Request) -> Response:
        who = await admin(request)
        if isinstance(who, Response):
            return who
        data = [
            {**asdict(r), "outstanding": gateway.router.outstanding.get(r.replica_id, 0)}
            for r in all_replicas(directory)
        ]
        return JSONResponse({"data": data})

    @app.get("/admin/deployments")
    async def desired_replicas(request: Request) -> Response:
        who = await admin(request)
        if isinstance(who, Response):
            return who
        specs = manager.desired if manager is not None else []
        return JSONResponse({"data": [spec_to_dict(s) for s in specs]})

    @app.put("/admin/deployments")
    async def apply_replicas(request: Request) -> Response:
        """Replace the desired replicas (the data plane's ReplicaSpec JSON); the reconciler converges."""
        who = await admin(request)
        if isinstance(who, Response):
            return who
        if manager is None:
            return openai_error(
                409,
                "this server runs fixed --backend replicas; it has no cluster to deploy to",
                code="no_cluster",
            )
        try:
            specs = spec_from_json((await request.body()).decode())
            manager.apply(specs)  # validates (unique ids) before anything is stored
        except (ValueError, TypeError, KeyError) as error:
            return openai_error(400, f"cannot read replica specs: {error}", code="invalid_specs")
        await anyio.to_thread.run_sync(lambda: log.save_desired(specs, clock()))
        return JSONResponse({"data": [spec_to_dict(s) for s in specs]}, status_code=202)

    @app.get("/admin/actions")
    async def list_actions(request: Request, limit: int = 100) -> Response:
        who = await admin(request)
        if isinstance(who, Response):
            return who
        rows = await anyio.to_thread.run_sync(lambda: log.actions(limit=limit))
        return JSONResponse({"data": [asdict(a) for a in rows]})

    # --- agents ---------------------------------------------------------------------------------
    @app.post("/internal/telemetry")
    async def ingest(request: Request) -> Response:
        if not join_token_ok(request):
            return openai_error(401, "telemetry needs the cluster's join token", type="authentication_error")
        try:
            report = RigTelemetry.model_validate_json(await request.body())
        except ValidationError as error:
            first = error.errors()[0]
            where = "$." + ".".join(str(p) for p in first["loc"])
            return openai_error(400, f"{where}: {first['msg']}", param=where)
        telemetry.ingest(report, clock())
        metrics.telemetry_reports.inc()
        return Response(status_code=204)

    # --- model store -----------------------------------------------------------------------------
    store = ModelStore(Path(settings.model_store_dir)) if settings.model_store_dir else None

    def join_token_ok(request: Request) -> bool:
        token = request.headers.get("authorization", "")[7:]
        return bool(settings.join_token) and hmac.compare_digest(
            token.encode(), (settings.join_token or "").encode()
        )

    @app.get("/internal/cluster")
    async def cluster_info(request: Request) -> Response:
        """What `rigshift agent` asks first: where the Ray head is (join token required)."""
        if not join_token_ok(request):
            return openai_error(401, "the cluster's join token is required", type="authentication_error")
        return JSONResponse({"ray_address": ray_address})

    @app.get("/internal/models/{name}")
    async def download_model(name: str, request: Request) -> Response:
        if not join_token_ok(request):
            return openai_error(
                401, "model downloads need the cluster's join token", type="authentication_error"
            )
        path = store.path(name) if store else None
        if path is None or not path.is_file():
            return openai_error(404, f"no model {name!r} in the store", code="model_not_found")
        return FileResponse(path, media_type="application/octet-stream")

    @app.get("/admin/models")
    async def list_models_in_store(request: Request) -> Response:
        who = await admin(request)
        if isinstance(who, Response):
            return who
        listed = await anyio.to_thread.run_sync(store.list) if store else []
        return JSONResponse({"data": [asdict(m) for m in listed]})

    @app.put("/admin/models/{name}")
    async def upload_model(name: str, request: Request) -> Response:
        who = await admin(request)
        if isinstance(who, Response):
            return who
        if store is None:
            return openai_error(409, "this server has no model store directory", code="no_model_store")
        tmp, final = store.open_upload(name)
        writer = await anyio.to_thread.run_sync(HashingWriter, tmp)
        try:
            async for chunk in request.stream():
                await anyio.to_thread.run_sync(writer.write, chunk)
            digest = await anyio.to_thread.run_sync(writer.close)
            await anyio.to_thread.run_sync(ModelStore.finish_upload, tmp, final, digest)
        except BaseException:
            with contextlib.suppress(Exception):
                writer.close()
            tmp.unlink(missing_ok=True)
            raise
        return JSONResponse({"name": name, "size_bytes": writer.size, "sha256": digest}, status_code=201)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/healthz")
    async def health() -> Response:
        return JSONResponse({"ok": True, "models": sorted(directory.models())})

    return app


def _warm(fleet: FleetSource) -> None:
    with contextlib.suppress(Exception):  # a broken fleet file is reported by the routes that need it
        fleet.warm()


def _key_json(key: ApiKey) -> dict[str, Any]:
    data = asdict(key)
    data.pop("extra", None)
    data["allowed_models"] = list(key.allowed_models)
    return data
