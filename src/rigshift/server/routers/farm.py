"""The farm over HTTP: overview, fleet with live telemetry, assessment, economics, placement.

Assessment, economics and placement call the CLI's own functions (`assess_fleet`,
`fleet_economics`, `plan_placement`) on the server's fleet (`rigshift server --fleet FILE`, or the
demo farm under `rigshift up --demo`); the JSON is what `rigshift assess|econ|plan --json` prints.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated

import anyio.to_thread
from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from rigshift.decision.now import net_now
from rigshift.decision.types import DEFAULT_MAX_TTFT_S
from rigshift.fleet.model import Fleet
from rigshift.plan import parse_demand, plan_placement
from rigshift.server.context import ServerContext
from rigshift.server.deps import Admin, Context
from rigshift.server.errors import Conflict
from rigshift.server.fleet_source import FleetSource
from rigshift.server.fleet_view import FleetView, build_view, live_gpus, overview
from rigshift.server.routers.api_router import api_router
from rigshift.server.services.decision_what_if import WhatIf, money_rows
from rigshift.server.services.decision_what_if import payload as decision_payload
from rigshift.server.services.deployments import all_replicas

# What-if factors on every power or token price (the console's sliders), 1.0: as configured.
PriceFactor = Annotated[float, Query(gt=0, le=10)]

router = api_router(tags=["farm"])


class PlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    demand: str = Field(min_length=1, max_length=200_000, description="A demand file's YAML (docs/plan.md)")


def _no_fleet() -> Conflict:
    return Conflict(
        "this server has no fleet: start it with `rigshift server --fleet FLEET_FILE` "
        "(or `rigshift up --demo` for the demo farm)",
        code="no_fleet",
    )


def _configured(ctx: ServerContext) -> FleetSource:
    if not ctx.fleet.configured:
        raise _no_fleet()
    return ctx.fleet


def _view(ctx: ServerContext, fleet: Fleet | None) -> FleetView:
    return build_view(
        fleet,
        ctx.telemetry.latest(),
        all_replicas(ctx.directory),
        now=ctx.clock(),
        stale_s=ctx.settings.telemetry_stale_s,
        assessment=ctx.fleet.loaded_assessment(),
    )


@router.get("/admin/overview")
async def get_overview(ctx: Context, _admin: Admin) -> Response:
    """Sites, rigs and GPUs by state, power and its cost now, revenue and tokens/s now, alerts."""
    # The first call may load the fleet file (the demo farm: ~0.6 s); later ones reuse it.
    fleet = await anyio.to_thread.run_sync(ctx.fleet.fleet)
    view = _view(ctx, fleet)
    now = ctx.clock()
    recent = await ctx.usage.report(now - 3600, now, {})
    power_price = await anyio.to_thread.run_sync(lambda: _power_price(ctx.fleet))
    body = overview(
        view,
        fleet,
        tokens_per_s=recent["tokens_per_s"],
        revenue_usd_per_h=recent["total"]["revenue_usd"],
        default_usd_per_kwh=power_price,
    )
    body["fleet_source"] = ctx.fleet.label
    # The farm decision leads the Overview: the same object `rigshift assess|econ|plan --json` print.
    # It takes seconds on a large farm: null (and `decision_pending`) until the background run ends.
    made = await anyio.to_thread.run_sync(ctx.fleet.decision_if_ready) if ctx.fleet.configured else None
    body["decision"] = None if made is None else made.summary.model_dump(mode="json")
    body["decision_pending"] = ctx.fleet.configured and made is None
    # Capex and proceeds apart; "now" from the agents' live states where they report, else modelled.
    live = net_now(made, live_gpus(view), recent["total"]["revenue_usd"]) if made is not None else None
    body["decision_money"] = None if made is None else money_rows(made, live)
    body["replicas"] = _replica_states(ctx)
    body["generated_at"] = now
    return JSONResponse(body)


def _power_price(source: FleetSource) -> float | None:
    """The server's power price (`--prices`, else the default) for sites without their own."""
    try:
        return source.files().inputs.power.usd_per_kwh
    except Exception:  # the overview still shows power in W when prices cannot be read
        return None


def _replica_states(ctx: ServerContext) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in all_replicas(ctx.directory):
        counts[r.state] = counts.get(r.state, 0) + 1
    return counts


@router.get("/admin/decision")
async def get_decision(
    ctx: Context,
    _admin: Admin,
    power_factor: PriceFactor = 1.0,
    token_factor: PriceFactor = 1.0,
    demand_factor: Annotated[float, Query(gt=0, le=100)] = 1.0,
    max_ttft_s: Annotated[float, Query(ge=0.01, le=600)] = DEFAULT_MAX_TTFT_S,
) -> Response:
    """The farm decision (the `decision` of `rigshift assess|econ|plan --json` and of
    `GET /admin/overview`), recomputed by the same `decide` with every power price, token price or
    the demand scaled, or another time-to-first-token bound: the console's what-if. Beside it the
    decision's placement (one row per replica) and money (capex and sale proceeds apart)."""
    source = _configured(ctx)
    what = WhatIf(power_factor, token_factor, demand_factor, max_ttft_s)
    made = await anyio.to_thread.run_sync(lambda: source.decision_what_if(what))
    assert made is not None
    return JSONResponse(decision_payload(made, what))


@router.get("/admin/fleet")
async def get_fleet(ctx: Context, _admin: Admin) -> Response:
    """Every rig and GPU: inventory, live telemetry (when an agent reports), state, assessment."""
    fleet = await anyio.to_thread.run_sync(ctx.fleet.fleet)
    view = _view(ctx, fleet)
    return JSONResponse(
        {
            "fleet_source": ctx.fleet.label,
            "stale_s": ctx.settings.telemetry_stale_s,
            "rigs": [asdict(r) for r in view.rigs],
            "gpus": [asdict(g) for g in view.gpus],
            "alerts": [asdict(a) for a in view.alerts],
            "generated_at": time.time(),
        }
    )


@router.get("/admin/assess")
async def get_assessment(
    ctx: Context, _admin: Admin, view: Annotated[str, Query(pattern="^(full|summary)$")] = "full"
) -> Response:
    """`rigshift assess --json` of the server's fleet; `view=summary` leaves out per-GPU rows and
    the per-class estimates (the console's Fleet page needs the summary and the profiles' verdicts)."""
    source = _configured(ctx)
    assessment = await anyio.to_thread.run_sync(source.assessment)
    assert assessment is not None
    if view == "full":
        return Response(assessment.model_dump_json(), media_type="application/json")
    profiles = [
        {
            "id": p.id,
            "gpu_name": p.gpu_name,
            "vram_gib": p.vram_gib,
            "link": p.link,
            "gpus": p.gpus,
            "tier": p.tier,
            "headline_ready": p.headline_ready,
            "primary_reason": p.primary_reason.text if p.primary_reason else None,
            "recommendation": p.recommendation,
            "recommendation_text": p.recommendation_text,
            "limits": [lim.model_dump(mode="json") for lim in p.limits],
            "gpu_runtime": p.gpu_runtime,
        }
        for p in assessment.profiles
    ]
    return JSONResponse(
        {
            "fleet": assessment.fleet,
            "criteria": assessment.criteria.model_dump(mode="json"),
            "summary": assessment.summary.model_dump(mode="json"),
            "profiles": profiles,
            "provenance": _provenance(source),
        }
    )


def _provenance(source: FleetSource) -> str:
    """Where the assessment's speeds come from, in one line (each estimate says it in detail)."""
    rows = len(getattr(source.tools().calibration, "rows", ()) or ())
    if rows:
        return (
            f"estimator priors calibrated by {rows} stored measurements where they apply "
            "(each estimate says measured, calibrated or prior)"
        )
    return "estimated from catalog specs and priors: nothing measured yet (rigshift bench adds measurements)"


@router.get("/admin/econ")
async def get_economics(
    ctx: Context,
    _admin: Admin,
    power_factor: PriceFactor = 1.0,
    token_factor: PriceFactor = 1.0,
) -> Response:
    """`rigshift econ --json` of the server's fleet. Other factors: a what-if with every power price
    and every token price scaled; its `sensitivity` then holds that one cell."""
    source = _configured(ctx)
    if power_factor == 1.0 and token_factor == 1.0:
        economics = await anyio.to_thread.run_sync(source.economics)
    else:
        economics = await anyio.to_thread.run_sync(lambda: source.what_if(power_factor, token_factor))
    assert economics is not None
    return Response(economics.model_dump_json(), media_type="application/json")


@router.post("/admin/plan")
async def place(body: PlanRequest, ctx: Context, _admin: Admin) -> Response:
    """`rigshift plan FLEET DEMAND --json` with the server's fleet and the demand in the body."""
    source = _configured(ctx)

    def run() -> str:
        fleet = source.fleet()
        assert fleet is not None
        demand = parse_demand(body.demand, "demand")
        return plan_placement(
            fleet, demand, options=demand.plan_options(), tools=source.tools()
        ).model_dump_json()

    return Response(await anyio.to_thread.run_sync(run), media_type="application/json")
