"""Usage reports: `/v1/usage` (a tenant's own, or everyone's for an admin key) and `/admin/usage`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import Query

from rigshift.server.deps import Admin, Context, Tenant
from rigshift.server.routers.api_router import api_router
from rigshift.server.schemas import GroupBy, UsageReport

router = api_router(tags=["usage"])

Since = Annotated[
    str | None,
    Query(max_length=40, description="A span back from now (24h, 7d, 90m) or an ISO date/time (UTC)"),
]


@router.get("/v1/usage", response_model=UsageReport)
async def tenant_usage(ctx: Context, key: Tenant, by: GroupBy = "model", since: Since = None) -> UsageReport:
    """A tenant's own usage; an admin key sees everyone's."""
    start, rows = await ctx.usage.summarise(by, since, key_id=None if key.admin else key.id)
    return UsageReport(by=by, since=start, data=[asdict(r) for r in rows])


Price = Annotated[
    float | None, Query(ge=0, le=1e6, allow_inf_nan=False, description="USD per million tokens")
]


@router.get("/admin/usage", response_model=UsageReport)
async def admin_usage(
    ctx: Context,
    _admin: Admin,
    by: GroupBy = "key",
    since: Since = None,
    price_prompt: Price = None,
    price_completion: Price = None,
) -> UsageReport:
    """Everyone's usage, grouped by key, model or rig (prices: econ's defaults unless given)."""
    start, rows = await ctx.usage.summarise(
        by, since, price_prompt=price_prompt, price_completion=price_completion
    )
    return UsageReport(by=by, since=start, data=[asdict(r) for r in rows])
