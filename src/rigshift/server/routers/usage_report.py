"""Usage and revenue by key, tenant, model, GPU, replica and day: an admin sees everyone's, a
tenant key (Bearer or console session) only its own."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse, Response

from rigshift.server.metering import default_prices
from rigshift.server.principal import Caller, caller
from rigshift.server.usage_report import usage_report
from rigshift.server.when import parse_since

router = APIRouter(tags=["usage"])


@router.get("/v1/usage/report")
async def report(request: Request, since: str = "7d", who: Caller = Depends(caller)) -> Response:  # noqa: B008
    state = request.app.state
    now = state.clock()
    start = parse_since(since, now)
    scope = None if who.key.admin else who.key.id

    def run() -> dict[str, object]:
        names = {k.id: k.name for k in state.keys.list()} if who.key.admin else {who.key.id: who.key.name}
        return usage_report(state.engine, default_prices(), names, since=start, now=now, key_id=scope)

    body = await anyio.to_thread.run_sync(run)
    body["scope"] = "all" if scope is None else "own"
    return JSONResponse(body)
