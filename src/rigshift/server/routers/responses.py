"""OpenAI's Responses API: `POST /v1/responses` (streamed or not), `GET` and `DELETE
/v1/responses/{id}`, `GET /v1/responses/{id}/input_items` (tenant key; each tenant sees only its own).

`POST` is a plain Starlette route like the other generation routes (the hot path: no FastAPI
dependency solving); the others are ordinary API routes. All call `ResponsesService`.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from rigshift.server.context import ServerContext, context
from rigshift.server.deps import Context, Tenant
from rigshift.server.errors import ApiError, NotAuthenticated, error_response
from rigshift.server.routers.api_router import api_router
from rigshift.server.services.responses import ResponsesService
from rigshift.server.strict_json import loads_strict

router = api_router(tags=["responses"])

ResponseId = Annotated[str, Path(max_length=80)]


class ResponseCreateRequest(BaseModel):
    """`POST /v1/responses`'s body, for /openapi.json and the schema-driven fuzz tests only (the
    route reads the raw body: `responses_request.read_request` checks it)."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=256)
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    store: bool | None = None
    stream: bool | None = None
    previous_response_id: str | None = None
    metadata: dict[str, str] | None = None


def service(ctx: ServerContext) -> ResponsesService:
    assert ctx.responses is not None, "build_context sets the responses service"
    return ctx.responses


async def create_response(request: Request) -> Response:
    started = time.perf_counter()
    ctx = context(request)
    try:
        key = await ctx.gateway.authenticate(request)  # throttles a client whose keys keep failing
        if key is None:
            raise NotAuthenticated("missing, unknown or revoked API key")
        body = loads_strict(await request.body(), max_depth=ctx.settings.max_json_depth)
    except ApiError as error:
        return error_response(error)
    return await service(ctx).create(key, body, started)


router.add_route("/v1/responses", create_response, methods=["POST"], include_in_schema=False)


@router.get("/v1/responses/{response_id}")
async def retrieve_response(response_id: ResponseId, ctx: Context, key: Tenant) -> dict[str, Any]:
    return await service(ctx).get(key, response_id)


@router.delete("/v1/responses/{response_id}")
async def delete_response(response_id: ResponseId, ctx: Context, key: Tenant) -> dict[str, Any]:
    return await service(ctx).delete(key, response_id)


@router.get("/v1/responses/{response_id}/input_items")
async def list_input_items(
    response_id: ResponseId,
    ctx: Context,
    key: Tenant,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
    after: Annotated[str | None, Query(max_length=80)] = None,
) -> dict[str, Any]:
    return await service(ctx).input_items(key, response_id, limit=limit, order=order, after=after)
