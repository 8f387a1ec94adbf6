"""`/v1/usage/report`: usage and revenue by key, tenant, model, GPU, replica and day. An admin
sees everyone's, a tenant key (Bearer or console session) only its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from starlette.responses import JSONResponse, Response

from rigshift.server.deps import Context, Tenant
from rigshift.server.routers.api_router import api_router
from rigshift.server.when import parse_since

router = api_router(tags=["usage"])

Since = Annotated[
    str, Query(max_length=40, description="A span back from now (24h, 7d, 90m) or an ISO date/time (UTC)")
]


@router.get("/v1/usage/report")
async def report(ctx: Context, key: Tenant, since: Since = "7d") -> Response:
    now = ctx.clock()
    start = parse_since(since, now)
    scope = None if key.admin else key.id

    names = await ctx.keys.names() if key.admin else {key.id: key.name}
    body = await ctx.usage.report(start, now, names, key_id=scope)
    body["scope"] = "all" if scope is None else "own"
    return JSONResponse(body)
