"""`/admin/energy`: the current price, decisions and demand-response events; agents' power caps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query
from pydantic import BaseModel, Field, field_validator

from rigshift.server.context import ServerContext, context
from rigshift.server.deps import Admin, Agent
from rigshift.server.errors import Unavailable
from rigshift.server.routers.api_router import api_router
from rigshift.server.routers.operations import Operator
from rigshift.server.schemas import NAME_PATTERN, Strict
from rigshift.server.services.energy import EnergyApiService
from rigshift.server.services.operator import Actor

router = api_router(prefix="/admin/energy", tags=["energy"])
agent_router = api_router(prefix="/internal/energy", tags=["internal"], dependencies=[Agent])

SiteName = Annotated[str, Path(pattern=NAME_PATTERN)]
Kw = Annotated[float, Field(ge=0, le=1e7)]


def energy_service(ctx: Annotated[ServerContext, Depends(context)]) -> EnergyApiService:
    if ctx.energy is None:
        raise Unavailable("energy is not set up on this server", code="no_energy")
    return ctx.energy


Energy = Annotated[EnergyApiService, Depends(energy_service)]


def _instant(value: Any) -> float:
    """Unix seconds or ISO 8601 (an instant without an offset is UTC)."""
    if isinstance(value, bool):
        raise ValueError("expected unix seconds or ISO 8601")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    raise ValueError("expected unix seconds or ISO 8601")


class EventCreate(Strict):
    site: Annotated[str, Field(pattern=NAME_PATTERN)]
    shed_kw: Annotated[float, Field(gt=0, le=1e7)] | None = None
    target_kw: Kw | None = None
    start: float | None = None  # default: now
    end: float

    @field_validator("start", "end", mode="before")
    @classmethod
    def _when(cls, value: Any) -> Any:
        return None if value is None else _instant(value)


class BatchHold(Strict):
    reason: Annotated[str, Field(max_length=500)] = "paused by an operator"


class EventList(BaseModel):
    data: list[dict[str, Any]]


@router.get("")
async def energy_status(energy: Energy, _admin: Admin) -> dict[str, Any]:
    """Per site: the price now, the policy's decision (cards per role, caps, replicas), the event in
    force; and the latest demand-response events."""
    return await energy.status()


@router.post("/events", status_code=201)
async def create_event(body: EventCreate, ops: Operator, _energy: Energy, admin: Admin) -> dict[str, Any]:
    """A demand-response event: shed `shed_kw` below the site's draw (or stay under `target_kw`)
    from `start` (default now) to `end`; the policy acts on it at once (written to the audit log)."""
    event = await ops.start_event(
        Actor.of(admin), body.site, body.start, body.end, body.shed_kw, body.target_kw
    )
    return event.as_json()


@router.get("/events", response_model=EventList)
async def list_events(
    energy: Energy,
    _admin: Admin,
    site: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventList:
    """Events, newest first, with what each shed, avoided and paused."""
    return EventList(data=[e.as_json() for e in await energy.list_events(site, limit)])


@router.delete("/events/{event_id}")
async def cancel_event(event_id: SiteName, ops: Operator, _energy: Energy, admin: Admin) -> dict[str, Any]:
    """End an event early; work resumes at the next decision (written to the audit log)."""
    return (await ops.end_event(Actor.of(admin), event_id)).as_json()


@router.post("/batch/{site}/pause")
async def pause_batch(site: SiteName, body: BatchHold, energy: Energy, _admin: Admin) -> dict[str, Any]:
    """Hold batch work at `site` whatever the price (the batch runner asks `batch_allowed`)."""
    return energy.batch(site, True, body.reason)


@router.post("/batch/{site}/resume")
async def resume_batch(site: SiteName, energy: Energy, _admin: Admin) -> dict[str, Any]:
    """Let the policy decide batch at `site` again."""
    return energy.batch(site, False, "")


@agent_router.get("/caps")
async def caps(energy: Energy, rig: Annotated[str, Query(min_length=1, max_length=200)]) -> dict[str, Any]:
    """The power cap per GPU of `rig` that `rigshift agent` applies (null: leave the card alone)."""
    return energy.caps(rig)
