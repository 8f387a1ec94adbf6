"""`rigshift agent` (join a rig to the cluster) and `rigshift deploy` (plan and apply a demand)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType

from rigshift.cli.errors import handle_errors
from rigshift.cli.options import AdminKeyOption, ServerOption, transport
from rigshift.errors import BackendError, InfeasiblePlan, InputError
from rigshift.files import write_atomic
from rigshift.run.spec import ReplicaSpec, to_json

_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)


@handle_errors
def agent(
    token: Annotated[str, typer.Option(envvar="RIGSHIFT_JOIN_TOKEN", help="The cluster's join token")],
    server: ServerOption = None,
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray head HOST:PORT (default: asked from the server, else its host:6380)"),
    ] = None,
    fleet: Annotated[
        Path | None, typer.Option(help="Describe this rig from a fleet file instead of probing the GPUs")
    ] = None,
    rig: Annotated[
        str | None, typer.Option(help="This rig's name (in --fleet, or to rename the probe)")
    ] = None,
    site: Annotated[str | None, typer.Option(help="Site of a probed rig")] = None,
    cpu_only: Annotated[
        bool, typer.Option("--cpu-only", help="Join without GPUs (CPU replicas only)")
    ] = False,
    advertise_host: Annotated[
        str | None,
        typer.Option(help="Address the gateway uses to reach this rig's backends (default: loopback only)"),
    ] = None,
    num_cpus: Annotated[int | None, typer.Option(help="CPUs this node offers to Ray")] = None,
    telemetry_interval: Annotated[float, typer.Option(help="Seconds between telemetry reports")] = 5.0,
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Report the fleet file's values instead of reading drivers")
    ] = False,
    model_cache: Annotated[
        str | None,
        typer.Option(help="Where replicas on this rig keep models (default ~/.cache/rigshift/models)"),
    ] = None,
    caps: Annotated[
        str | None,
        typer.Option(
            "--caps",
            help="Apply the energy policy's power caps with: auto (by GPU brand), nvml, amdsmi, rocm-smi, "
            "fake:PATH (a JSON file, for tests) or none (default: auto; none with --simulate or --cpu-only)",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the power caps the policy asks for; change nothing")
    ] = False,
) -> None:
    """Join this rig to the cluster as a Ray node labelled with its rig id, GPU models, VRAM and
    PCIe links, and report GPU telemetry to the control plane until stopped (Ctrl-C)."""
    from rigshift.extras import require

    require("cluster", "`rigshift agent`")  # it runs `ray start`, which comes with Ray
    from rigshift.run.agent import Agent, cpu_rig, probe_this_rig, ray_address_for, rig_from_fleet

    if not server:
        raise InputError(
            "an agent needs its control plane", field="--server", expected="--server URL or RIGSHIFT_SERVER"
        )

    if fleet is not None:
        this = rig_from_fleet(fleet, rig)
    elif cpu_only:
        this = cpu_rig(rig, site)
    else:
        this = probe_this_rig(rig, site)
    address = ray_address_for(server, ray_address, token)
    # SIGTERM (systemd, docker stop) must leave the cluster cleanly, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    from rigshift.energy.caps import DryRunCapper, capper_for

    choice = caps or ("none" if simulate or cpu_only or not this.gpus else "auto")
    capper = capper_for(choice, this.gpus[0].brand if this.gpus else None)
    if capper is not None and dry_run:
        capper = DryRunCapper(capper, say=_out.print)
    runner = Agent(
        this,
        server,
        token,
        address,
        advertise_host,
        num_cpus,
        telemetry_interval,
        simulate,
        model_cache,
        capper,
    )
    gpus = ", ".join(g.model for g in this.gpus) or "no GPUs"
    code = runner.run(on_joined=lambda a: _out.print(f"rig {this.name} ({gpus}) joined the cluster at {a}"))
    if code not in (0, -15):
        raise BackendError(f"the Ray node of rig {this.name} exited with code {code}")


def _load_sources(demand: Any) -> dict[str, Any]:
    from rigshift.run.plan_adapter import source_for

    return {d.name: source_for(d.model, d.quant) for d in demand.deployments}


def _summary(specs: list[ReplicaSpec], width: int) -> RenderableType:
    from rigshift.tables import Col, fitted_table

    rows = [
        (
            s.replica_id,
            s.model,
            s.rig,
            ",".join(map(str, s.gpu_indices)) or "cpu",
            s.runtime,
            str(s.context),
            str(s.parallel),
            f"{s.source.kind}:{s.source.uri}",
        )
        for s in specs
    ]
    columns = (
        Col("replica"),
        Col("model", drop=3),
        Col("rig"),
        Col("gpus"),
        Col("runtime", drop=4),
        Col("ctx", "right", drop=5),
        Col("slots", "right", drop=6),
        Col("source", wrap=True, drop=2),
    )
    return fitted_table(columns, rows, width, title=f"{len(specs)} replica(s)")


@handle_errors
def deploy(
    ctx: typer.Context,
    demand_file: Annotated[Path, typer.Argument(metavar="DEMAND.yaml", help="What to serve")],
    fleet: Annotated[Path, typer.Option(help="The fleet file to place it on")],
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    current: Annotated[
        Path | None, typer.Option(help="The plan now running (JSON), so unchanged replicas stay put")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the replica specs (JSON) here")] = None,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="Apply even when part of the demand cannot be placed")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the replica specs as JSON")] = False,
) -> None:
    """Plan DEMAND.yaml on the fleet and apply it: the server's reconciler starts, stops and moves
    replicas until the running ones equal the plan. Without --server it prints (or --out writes)
    the replica specs it would apply."""
    from rigshift.cli.plan import load_plan
    from rigshift.fleet.store import load_fleet
    from rigshift.plan import load_demand, plan_placement
    from rigshift.run.plan_adapter import specs_from_plan

    demand = load_demand(demand_file)
    plan = plan_placement(load_fleet(fleet), demand, current=load_plan(current) if current else None)
    for unplaced in plan.unplaced:
        _err.print(f"[yellow]unplaced:[/] {unplaced.render()}")
    if plan.unplaced and not allow_partial:
        raise InfeasiblePlan(
            "part of the demand cannot be placed (see above); fix the demand or pass --allow-partial"
        )
    from rigshift.tables import output_console

    specs = specs_from_plan(plan, _load_sources(demand))
    text = to_json(specs)
    if as_json:
        typer.echo(text)
    else:
        console = output_console()
        console.print(_summary(specs, console.width))
    if out is not None:
        write_atomic(out, text)
    if server is None:
        if out is None and not as_json:
            _out.print("dry run: pass --server URL (and --admin-key) to apply it")
        return
    from rigshift.client.control_plane import RemoteControlPlane

    applied = len(RemoteControlPlane(server, admin_key, transport=transport(ctx)).apply_deployment(specs))
    _out.print(f"applied {applied} replica(s); follow with `rigshift usage` or GET {server}/admin/replicas")


def register(app: typer.Typer) -> None:
    app.command("agent")(agent)
    app.command("deploy")(deploy)
