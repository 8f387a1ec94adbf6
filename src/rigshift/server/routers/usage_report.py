"""`/v1/usage/report`: usage and revenue by key, tenant, model, GPU, replica and day. An admin
sees everyone's, a tenant key (Bearer or console session) only its own."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import Query
from starlette.responses import JSONResponse, Response

from rigshift.server.deps import Context, Tenant
from rigshift.server.metering import default_prices
from rigshift.server.routers.api_router import api_router
from rigshift.server.services.usage_report import usage_report
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

    def run() -> dict[str, Any]:
        names = {k.id: k.name for k in ctx.keys.store.list()} if key.admin else {key.id: key.name}
        engine = ctx.usage.store.engine
        return usage_report(engine, default_prices(), names, since=start, now=now, key_id=scope)

    body = await anyio.to_thread.run_sync(run)
    body["scope"] = "all" if scope is None else "own"
    return JSONResponse(body)
