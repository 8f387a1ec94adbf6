"""Tenants' LoRA adapters: `/v1/adapters` (upload, list, delete; tenant key).

An upload is the GGUF file as the request body (streamed, never read whole), the base model in
`?model=`, and optionally its `?sha256=` to check the transfer. The answer's `id` is the model
name to send to `/v1/chat/completions` (`ft:BASE:TENANT::ID`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.requests import Request
from starlette.responses import JSONResponse

from rigshift.server.deps import Context, Tenant
from rigshift.server.errors import Conflict
from rigshift.server.services.adapters import AdapterService, public

# A plain APIRouter: an upload is a stream of bytes, never read whole as JSON.
router = APIRouter(prefix="/v1/adapters", tags=["adapters"])


def _service(ctx: Any) -> AdapterService:
    if ctx.adapters is None:
        raise Conflict("this server does not serve adapters", code="no_adapters")
    service: AdapterService = ctx.adapters
    return service


@router.post("", status_code=201)
async def upload_adapter(
    request: Request,
    ctx: Context,
    key: Tenant,
    model: Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")],
    sha256: Annotated[str | None, Query(pattern=r"^[0-9a-fA-F]{64}$")] = None,
) -> JSONResponse:
    """Upload a LoRA adapter (GGUF) for the base `model`; checked against the base's GGUF."""
    adapter = await _service(ctx).upload(key, model, request.stream(), sha256)
    return JSONResponse(public(adapter), 201)


@router.get("")
async def list_adapters(ctx: Context, key: Tenant) -> dict[str, object]:
    """This key's adapters."""
    return {"object": "list", "data": [public(a) for a in await _service(ctx).list(key)]}


@router.delete("/{adapter_id}")
async def delete_adapter(
    adapter_id: Annotated[str, Path(max_length=320)], ctx: Context, key: Tenant
) -> dict[str, object]:
    await _service(ctx).delete(key, adapter_id)
    return {"id": adapter_id, "object": "model", "deleted": True}
