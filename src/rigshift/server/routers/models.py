"""The model store: `/admin/models` (list, upload; admin key)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path
from starlette.requests import Request
from starlette.responses import JSONResponse

from rigshift.server.deps import Admin, Context
from rigshift.server.schemas import NAME_PATTERN, DataList

# A plain APIRouter: an upload is a stream of bytes, never read whole as JSON.
router = APIRouter(prefix="/admin/models", tags=["models"])

FileName = Annotated[str, Path(pattern=NAME_PATTERN, description="e.g. llama-3.1-8b.Q4_K_M.gguf")]


@router.get("", response_model=DataList)
async def list_models_in_store(ctx: Context, _admin: Admin) -> DataList:
    """The model files rigs can fetch, with sizes and sha256."""
    return DataList(data=[asdict(m) for m in await ctx.model_files.list()])


@router.put("/{name}", status_code=201)
async def upload_model(name: FileName, request: Request, ctx: Context, _admin: Admin) -> JSONResponse:
    """Upload a model file (the request body, streamed); replaces a file of the same name."""
    stored = await ctx.model_files.upload(name, request.stream())
    return JSONResponse({"name": stored.name, "size_bytes": stored.size_bytes, "sha256": stored.sha256}, 201)
