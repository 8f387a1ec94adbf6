"""`/healthz` (always) and `/metrics` (Prometheus; unless the server turns it off)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from rigshift.server.deps import Context

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def health(ctx: Context) -> JSONResponse:
    """Liveness: answers without touching the database."""
    return JSONResponse({"ok": True, "models": sorted(ctx.directory.models())})


metrics_router = APIRouter(tags=["ops"])


@metrics_router.get("/metrics")
async def prometheus(ctx: Context) -> Response:
    return Response(ctx.metrics.render(), media_type="text/plain; version=0.0.4")
