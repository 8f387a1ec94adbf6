"""`/admin/deployments` (the desired plan), `/admin/replicas` (what runs), `/admin/actions` (why)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import Body, Query

from rigshift.run.spec import to_dict as spec_to_dict
from rigshift.server.deps import Admin, Context
from rigshift.server.routers.api_router import api_router
from rigshift.server.schemas import DataList, ReplicaSpecIn

router = api_router(prefix="/admin", tags=["deployments"])


@router.get("/deployments", response_model=DataList)
async def desired_replicas(ctx: Context, _admin: Admin) -> DataList:
    """The desired replicas the reconciler converges to."""
    return DataList(data=[spec_to_dict(s) for s in ctx.deployments.desired()])


@router.put("/deployments", status_code=202, response_model=DataList)
async def apply_replicas(
    specs: Annotated[list[ReplicaSpecIn], Body(max_length=10_000)], ctx: Context, _admin: Admin
) -> DataList:
    """Replace the desired replicas (the data plane's ReplicaSpec JSON); the reconciler converges."""
    applied = await ctx.deployments.apply([s.to_spec() for s in specs])
    return DataList(data=[spec_to_dict(s) for s in applied])


@router.get("/replicas", response_model=DataList)
async def list_replicas(ctx: Context, _admin: Admin) -> DataList:
    """Every replica the data plane knows, with its state and requests in flight."""
    return DataList(data=ctx.deployments.replicas())


@router.get("/actions", response_model=DataList)
async def list_actions(
    ctx: Context, _admin: Admin, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
) -> DataList:
    """The reconciler's latest actions (start, stop, move, restart), each with its reason."""
    return DataList(data=[asdict(a) for a in await ctx.deployments.actions(limit)])
