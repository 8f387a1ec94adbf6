"""`rigshift plan FLEET DEMAND`: where every replica goes, and why anything could not be placed."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from rigshift.cli.errors import handle_errors
from rigshift.errors import InfeasiblePlan, InputError, Problem
from rigshift.fleet.store import load_fleet
from rigshift.measure.calibrate import estimator_for
from rigshift.plan import Plan, PlanOptions, load_demand, plan_placement
from rigshift.plan.seams import default_seams


def load_plan(path: Path) -> Plan:
    try:
        return Plan.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(Problem(f"cannot read plan: {error.strerror}", str(path))) from None
    except ValidationError as error:
        first = error.errors()[0]
        loc = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise InputError(
            Problem(first["msg"], str(path), loc, expected="a plan written by `rigshift plan --out`")
        ) from None


def _write_atomic(path: Path, text: str) -> None:
    """Temp file + rename: an interrupted write never leaves a half plan over the old one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def print_summary(plan: Plan, console: Console, explain: bool) -> None:
    table = Table(title=f"Plan for {plan.fleet}", show_lines=False)
    for column in ("deployment", "wanted", "replicas", "tok/s", "$/h"):
        table.add_column(column, justify="left" if column in ("deployment", "wanted") else "right")
    for d in plan.deployments:
        table.add_row(
            d.deployment, d.wanted, str(d.replicas), f"{d.tokens_per_s:,.0f}", f"{d.revenue_usd_per_h:.3f}"
        )
    console.print(table)
    bound = "n/a" if plan.bound is None else f"{plan.bound:.4f}"
    gap = "n/a" if plan.gap is None else f"{plan.gap:.2%}"
    console.print(
        f"objective {plan.objective:.4f}  bound {bound}  gap {gap}  ({plan.solver}, {plan.solver_status}, "
        f"{plan.solve_seconds:.2f} s)"
    )
    console.print(
        f"revenue ${plan.revenue_usd_per_h:.3f}/h  power ${plan.power_cost_usd_per_h:.3f}/h  "
        + "  ".join(f"{s}: {w / 1000:.1f} kW" for s, w in plan.power_w_by_site.items())
    )
    console.print("leftover GPUs: " + ", ".join(f"{k} {v}" for k, v in plan.leftover.items()))
    if plan.moves:
        counts: dict[str, int] = {}
        for m in plan.moves:
            counts[m.action] = counts.get(m.action, 0) + 1
        console.print("changes: " + ", ".join(f"{n} {a}" for a, n in sorted(counts.items())))
        if explain:
            for m in plan.moves:
                if m.action != "keep":
                    console.print(f"  {m.action} {m.deployment} {m.source or ''} -> {m.target or ''}")
    for u in plan.unplaced:
        console.print(f"[bold yellow]unplaced[/] {u.render()}")
    if explain:
        for note in plan.notes:
            console.print(f"note: {note}")
        for r in plan.replicas:
            gpus = ",".join(
                f"{g.position}" + (f"@{g.power_cap_w:g}W" if g.power_cap_w else "") for g in r.gpus
            )
            split = f" split {r.tensor_split}" if r.tensor_split else ""
            console.print(
                f"  {r.id}: {r.rig} gpu {gpus} {r.runtime} {r.tokens_per_s:.1f} tok/s "
                f"${r.revenue_usd_per_h:.4f}/h {r.power_w:.0f} W{split}"
            )


def plan_command(
    fleet: Annotated[Path, typer.Argument(help="Fleet file (JSON or YAML) as `rigshift fleet` writes it.")],
    demand: Annotated[Path, typer.Argument(help="Demand file (YAML): deployments, values, constraints.")],
    current: Annotated[
        Path | None, typer.Option("--current", help="The plan now running; replicas stay unless a move pays.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the plan (JSON) here.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan as JSON instead of a summary.")
    ] = False,
    explain: Annotated[bool, typer.Option("--explain", help="List every replica, move and note.")] = False,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="Solver time limit, seconds.")
    ] = None,
    no_measurements: Annotated[
        bool, typer.Option("--no-measurements", help="Ignore stored measurements: priors alone.")
    ] = False,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Measurements database (default: $RIGSHIFT_DB or ~/.local/share/rigshift/rigshift.db).",
        ),
    ] = None,
    solver: Annotated[str | None, typer.Option("--solver", help="milp (default) or greedy.")] = None,
) -> None:
    """Place every replica of DEMAND on the GPUs of FLEET, for the most value within its limits.

    Power, memory and host limits are respected; the plan lists replicas with their GPUs, tensor
    split, power caps, tokens/s and $/h, the solver's bound and gap, and the reasons for anything
    unplaced. Exit code 3 when some demand cannot be met (the plan is still written).
    """
    fleet_data = load_fleet(fleet)
    demand_data = load_demand(demand)
    current_plan = load_plan(current) if current else None
    overrides: dict[str, object] = {}
    if time_limit is not None:
        overrides["time_limit_s"] = time_limit
    if solver is not None:
        if solver not in ("milp", "greedy"):
            raise InputError(
                Problem(f"unknown solver {solver!r}", field="--solver", expected="milp or greedy")
            )
        overrides["solver"] = solver
    options = PlanOptions.model_validate({**demand_data.plan_options().model_dump(), **overrides})
    seams = default_seams(estimator_for(db, not no_measurements))
    plan = plan_placement(fleet_data, demand_data, current=current_plan, options=options, seams=seams)
    text = plan.model_dump_json(indent=2)
    if out is not None:
        _write_atomic(out, text + "\n")
    if as_json:
        typer.echo(text)
    else:
        print_summary(plan, Console(highlight=False, soft_wrap=True), explain)
    if plan.unplaced:
        raise InfeasiblePlan(
            f"{sum(u.replicas for u in plan.unplaced)} replica(s) of "
            f"{', '.join(u.deployment for u in plan.unplaced)} could not be placed"
        )


def register(app: typer.Typer) -> None:
    app.command("plan")(handle_errors(plan_command))


__all__ = ["load_plan", "plan_command", "register"]
