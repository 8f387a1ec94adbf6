"""`/admin/measurements`: llama-bench results, listed, added, and measured on a rig through its agent."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import Field, StringConstraints

from rigshift.measure.types import Measurement
from rigshift.server.context import ServerContext
from rigshift.server.deps import Admin, Context
from rigshift.server.errors import Unavailable
from rigshift.server.routers.api_router import api_router
from rigshift.server.routers.operations import Operator
from rigshift.server.schemas import Name, Strict
from rigshift.server.services.measurements import MeasurementsService
from rigshift.server.services.operator import Actor

router = api_router(prefix="/admin/measurements", tags=["measurements"])

Text = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Rate = Annotated[float, Field(gt=0, le=1e7)]
Tokens = Annotated[int, Field(ge=0, le=10**7)]
Runtime = Literal[
    "llama.cpp-cuda", "llama.cpp-vulkan", "llama.cpp-rocm", "llama.cpp-cpu", "vllm", "transformers"
]


class MeasurementIn(Strict):
    card_key: Text
    card_name: Text
    runtime: Runtime
    model_key: Text
    quant: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    n_prompt: Tokens
    n_gen: Tokens
    tokens_per_s: Rate
    stddev_tokens_per_s: Annotated[float, Field(ge=0, le=1e7)] = 0.0
    samples_tokens_per_s: Annotated[list[Rate], Field(default_factory=list, max_length=1000)]
    n_depth: Tokens = 0
    vram_gib: Annotated[float, Field(gt=0, le=4096)] | None = None
    card_uuid: Text | None = None
    driver: Text | None = None
    runtime_build: Text | None = None
    power_limit_w: Annotated[float, Field(gt=0, le=5000)] | None = None
    pcie_link: Annotated[str, StringConstraints(max_length=32)] | None = None
    gpu_memory_used_gib: Annotated[float, Field(ge=0, le=4096)] | None = None
    n_gpu_layers: Annotated[int, Field(ge=-1, le=10000)] | None = None
    n_threads: Annotated[int, Field(ge=1, le=4096)] | None = None
    source: Annotated[str, StringConstraints(min_length=1, max_length=1000)] = "api"
    rig: Name | None = None
    measured_at: Annotated[float, Field(ge=0, le=1e11)] = 0.0


class MeasurementsIn(Strict):
    data: Annotated[list[MeasurementIn], Field(min_length=1, max_length=10_000)]


class BenchRequest(Strict):
    rig: Name
    runtime: Runtime | None = None
    threads: Annotated[int, Field(ge=1, le=1024)] | None = None
    # MODEL:QUANT instead of the standard set, e.g. "llama-3.2-1b:Q4_0"
    models: (
        Annotated[list[Annotated[str, StringConstraints(max_length=100)]], Field(max_length=20)] | None
    ) = None


def _service(ctx: ServerContext) -> MeasurementsService:
    if ctx.measurements is None:
        raise Unavailable("this server keeps no measurements")
    return ctx.measurements


def _out(rows: list[Measurement]) -> dict[str, object]:
    return {"object": "list", "data": [r.to_json() for r in rows]}


@router.get("")
async def list_measurements(
    ctx: Context,
    _admin: Admin,
    card: Annotated[str | None, Query(max_length=200)] = None,
    runtime: Annotated[str | None, Query(max_length=32)] = None,
    rig: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, object]:
    """Stored measurements, oldest first; filter by card key, runtime, rig."""
    return _out(await _service(ctx).find(card, runtime, rig))


@router.post("", status_code=201)
async def add_measurements(body: MeasurementsIn, ctx: Context, _admin: Admin) -> dict[str, object]:
    """Store rows (`rigshift bench --json` output); names are checked against the catalogs and
    one bad row refuses the batch (nothing stored)."""
    rows = [Measurement(**item.model_dump()) for item in body.data]
    return _out(await _service(ctx).add(rows))


@router.post("/bench", status_code=201)
async def bench_rig(body: BenchRequest, ops: Operator, admin: Admin) -> dict[str, object]:
    """Ask the rig's agent to run `rigshift bench` there; store and return its rows (the bench is
    written to the audit log)."""
    rows = await ops.bench_rig(Actor.of(admin), body.rig, body.runtime, body.threads, body.models)
    return _out(rows)
