"""`GET /admin/history`: the farm's past, one series at a time (admin only).

Without `series` it lists the series (name, unit, kind, which parameters pick a subject); with
it, the points of one series over `range` as `[unix_seconds, value]` (docs/console.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from starlette.requests import Request

from rigshift.server.deps import Admin, Context
from rigshift.server.errors import BadRequest
from rigshift.server.routers.api_router import api_router
from rigshift.server.services.history import HistoryQuery

router = api_router(tags=["history"])

SUBJECT_PARAMS = ("rig", "gpu", "site", "model", "replica", "tenant", "card_class")
KNOWN_PARAMS = frozenset({"series", "range", *SUBJECT_PARAMS})
Name = Annotated[str | None, Query(max_length=400)]


@router.get("/admin/history")
async def history(
    request: Request,
    ctx: Context,
    _admin: Admin,
    series: Annotated[str | None, Query(max_length=64, description="A series name; none: list them")] = None,
    range: Annotated[str, Query(max_length=8, description="1h, 24h, 7d or 30d")] = "24h",
    rig: Name = None,
    gpu: Name = None,
    site: Name = None,
    model: Name = None,
    replica: Name = None,
    tenant: Name = None,
    card_class: Name = None,
) -> dict[str, object]:
    """A series' points over a range, or (without `series`) the series there are."""
    unknown = sorted(set(request.query_params) - KNOWN_PARAMS)
    if unknown:
        raise BadRequest(
            f"unknown parameter {unknown[0]!r}; expected {', '.join(sorted(KNOWN_PARAMS))}",
            param=unknown[0],
            code="invalid_value",
        )
    if series is None:
        return {"object": "list", "data": ctx.history.catalog()}
    values = dict(zip(SUBJECT_PARAMS, (rig, gpu, site, model, replica, tenant, card_class), strict=True))
    filters = {k: v for k, v in values.items() if v is not None}
    return await ctx.history.query(HistoryQuery(series, range, filters))


@router.get("/admin/history/subjects")
async def history_subjects(
    ctx: Context, _admin: Admin, series: Annotated[str, Query(max_length=64)]
) -> dict[str, object]:
    """What a series has points about (rigs, GPUs, sites, models…): the console's pickers."""
    return {"object": "list", "series": series, "data": await ctx.history.subjects(series)}
