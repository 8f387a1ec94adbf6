"""What agents call, with the cluster's join token: telemetry, the Ray address, model downloads."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from starlette.responses import FileResponse, Response

from rigshift.run.contracts import RigTelemetry
from rigshift.server.deps import Agent, Context
from rigshift.server.routers.api_router import api_router
from rigshift.server.schemas import NAME_PATTERN

router = api_router(prefix="/internal", tags=["internal"], dependencies=[Agent])


@router.post("/telemetry", status_code=204)
async def ingest(report: RigTelemetry, ctx: Context) -> Response:
    """One rig's GPU readings; a bad report is refused for that rig only."""
    ctx.telemetry.ingest(report)
    return Response(status_code=204)


@router.get("/cluster")
async def cluster_info(ctx: Context) -> dict[str, str | None]:
    """What `rigshift agent` asks first: where the Ray head is."""
    return {"ray_address": ctx.ray_address}


@router.get("/models/{name}")
async def download_model(name: Annotated[str, Path(pattern=NAME_PATTERN)], ctx: Context) -> FileResponse:
    """A stored model file, for a rig's model cache."""
    return FileResponse(ctx.model_files.path(name), media_type="application/octet-stream")
