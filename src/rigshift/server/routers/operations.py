"""`/admin/alerts`, `/admin/audit` and the operator's actions: demand, drain, undrain, bench.

Admin only; each action is written to the audit log with the admin key's name (the key revoke
and energy-event routes log theirs the same way). Console sessions send their CSRF token on
every one of these (`deps.tenant_key`), as on the console's other changes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query
from pydantic import Field, StringConstraints

from rigshift.server.alert_rules import RULES
from rigshift.server.context import ServerContext, context
from rigshift.server.deps import Admin
from rigshift.server.errors import Unavailable
from rigshift.server.routers.api_router import api_router
from rigshift.server.schemas import NAME_PATTERN, Strict
from rigshift.server.services.alerts import AlertsService, alert_json
from rigshift.server.services.operator import Actor, OperatorService

router = api_router(prefix="/admin", tags=["operations"])

RigName = Annotated[str, Path(pattern=NAME_PATTERN, max_length=200)]
AlertId = Annotated[str, Path(pattern=r"^al-[0-9a-f]{1,40}$")]


def operator(ctx: Annotated[ServerContext, Depends(context)]) -> OperatorService:
    if ctx.operator is None:
        raise Unavailable("this server has no operator actions", code="no_operator")
    return ctx.operator


def alerts(ctx: Annotated[ServerContext, Depends(context)]) -> AlertsService:
    if ctx.alerts is None:
        raise Unavailable("this server keeps no alerts", code="no_alerts")
    return ctx.alerts


Operator = Annotated[OperatorService, Depends(operator)]
Alerts = Annotated[AlertsService, Depends(alerts)]


class DrainRequest(Strict):
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class BenchStart(Strict):
    # MODEL:QUANT instead of the agent's standard set, e.g. "llama-3.2-1b:Q4_0"
    models: (
        Annotated[list[Annotated[str, StringConstraints(max_length=100)]], Field(max_length=20)] | None
    ) = None


class DemandRequest(Strict):
    demand: Annotated[str, Field(min_length=1, max_length=200_000, description="A demand file's YAML")]
    dry_run: bool = True
    allow_partial: bool = False


@router.get("/alerts")
async def list_alerts(
    service: Alerts,
    _admin: Admin,
    state: Literal["active", "history"] = "active",
    rule: Annotated[str | None, Query(pattern="^(" + "|".join(RULES) + ")$")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> dict[str, Any]:
    """`state=active`: the rules evaluated now, the alerts firing; `state=history`: every alert,
    firing or resolved, newest first (with `rule` and `limit`)."""
    if state == "active":
        found = [a for a in await service.evaluate() if rule is None or a.rule == rule]
    else:
        found = await service.history(limit, rule)
    return {"object": "list", "state": state, "rules": list(RULES), "data": [alert_json(a) for a in found]}


@router.post("/alerts/{alert_id}/ack")
async def acknowledge_alert(alert_id: AlertId, service: Operator, admin: Admin) -> dict[str, Any]:
    """Acknowledge an alert: who and when are stored with it (the first acknowledgement stands)."""
    return alert_json(await service.acknowledge(Actor.of(admin), alert_id))


@router.get("/audit")
async def audit_log(
    service: Operator,
    _admin: Admin,
    action: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> dict[str, Any]:
    """The operators' actions, newest first: who, when, what, on what, and how it ended."""
    return {"object": "list", "data": [e.as_json() for e in await service.log(limit, action)]}


@router.get("/drains")
async def list_drains(service: Operator, _admin: Admin) -> dict[str, Any]:
    """The drained rigs, with who drained them, when and why."""
    return {"object": "list", "data": [d.as_json() for d in await service.load_drains()]}


@router.post("/rigs/{rig}/drain")
async def drain_rig(rig: RigName, body: DrainRequest, service: Operator, admin: Admin) -> dict[str, Any]:
    """Send the rig no new request and start no new replica there; requests in flight finish."""
    drain = await service.drain(Actor.of(admin), rig, body.reason)
    return {**drain.as_json(), "drained": True}


@router.post("/rigs/{rig}/undrain")
async def undrain_rig(rig: RigName, service: Operator, admin: Admin) -> dict[str, Any]:
    """Let the rig take requests and new replicas again."""
    return await service.undrain(Actor.of(admin), rig)


@router.post("/rigs/{rig}/bench", status_code=202)
async def start_bench(rig: RigName, body: BenchStart, service: Operator, admin: Admin) -> dict[str, Any]:
    """Start `rigshift bench` on the rig through its agent (minutes); the audit entry returned
    says `started`, and later `ok` (rows stored as measurements) or `failed`."""
    return (await service.start_bench(Actor.of(admin), rig, body.models)).as_json()


@router.post("/demand")
async def apply_demand(body: DemandRequest, service: Operator, admin: Admin) -> dict[str, Any]:
    """Plan the demand on the server's fleet (drained rigs left out): `dry_run` (the default) says
    which replicas would run where; `dry_run: false` applies them (the reconciler converges)."""
    return await service.apply_demand(
        Actor.of(admin), body.demand, dry_run=body.dry_run, allow_partial=body.allow_partial
    )
