"""`rigshift plan FLEET DEMAND`: where every replica goes, and why anything could not be placed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from rigshift.cli.errors import handle_errors
from rigshift.cli.options import DbOption, NoMeasurementsOption
from rigshift.errors import InfeasiblePlan, InputError, Problem
from rigshift.files import write_atomic
from rigshift.fleet.store import load_fleet
from rigshift.measure.calibrate import toolkit_for
from rigshift.plan import Plan, PlanOptions, load_demand, plan_placement
from rigshift.plan.report import render_explain, render_html, render_summary
from rigshift.readers import LIMITS, load_json, problems_from_validation, read_text
from rigshift.tables import output_console


def load_plan(path: Path) -> Plan:
    expected = "a plan written by `rigshift plan --out`"
    text = read_text(path, expected, max_bytes=LIMITS.fleet_file_bytes)
    try:
        return Plan.model_validate_json(text)
    except ValidationError as error:
        if any(item["type"] == "json_invalid" for item in error.errors()):
            load_json(text, str(path), expected)  # raises, with the line of the syntax error
        raise InputError(
            problems_from_validation(error, str(path), expected=expected, first_only=True)
        ) from None


def print_summary(plan: Plan, console: Console, explain: bool) -> None:
    """The plan for people: a one-screen summary; `explain` adds the groups, reasons and changes."""
    console.print(render_summary(plan, console.width))
    if explain:
        console.print(render_explain(plan, console.width))


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
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Add placement groups, every reason, changes and solver figures."),
    ] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report with a rig map.")
    ] = None,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="Solver time limit, seconds.")
    ] = None,
    no_measurements: NoMeasurementsOption = False,
    db: DbOption = None,
    solver: Annotated[str | None, typer.Option("--solver", help="milp (default) or greedy.")] = None,
    min_tps: Annotated[
        float | None,
        typer.Option(
            "--min-tps", help="Slowest stream served, tokens/s, where a deployment sets none [20, as assess]."
        ),
    ] = None,
) -> None:
    """Place every replica of DEMAND on the GPUs of FLEET, for the most value within its limits.

    Power, memory, host (CPU cores, RAM, disk) and speed limits are respected: a replica slower than
    its deployment's min_tokens_per_s (default: the assessment's 20 tokens/s per stream) is never
    placed. Prints what runs where, $/h, what is unmet and what would change it; `--json` or `--out`
    has every replica with its GPUs, tensor split and power caps. Exit code 3 when some demand
    cannot be met (the plan is still written).
    """
    fleet_data = load_fleet(fleet)
    demand_data = load_demand(demand)
    current_plan = load_plan(current) if current else None
    overrides: dict[str, object] = {}
    if time_limit is not None:
        overrides["time_limit_s"] = time_limit
    if min_tps is not None:
        if not min_tps >= 0:
            raise InputError(Problem(f"bad value {min_tps}", field="--min-tps", expected="tokens/s >= 0"))
        overrides["min_decode_tps"] = min_tps
    if solver is not None:
        if solver not in ("milp", "greedy"):
            raise InputError(
                Problem(f"unknown solver {solver!r}", field="--solver", expected="milp or greedy")
            )
        overrides["solver"] = solver
    options = PlanOptions.model_validate({**demand_data.plan_options().model_dump(), **overrides})

    tools = toolkit_for(db, not no_measurements, fleet_data)
    plan = plan_placement(fleet_data, demand_data, current=current_plan, options=options, tools=tools)
    text = plan.model_dump_json(indent=2)
    if out is not None:
        write_atomic(out, text + "\n")
    if html is not None:
        write_atomic(html, render_html(plan, fleet_data))
    if as_json:
        typer.echo(text)
    else:
        console = output_console()
        print_summary(plan, console, explain)
        if html is not None:
            console.print(f"HTML report: {html}")
    if plan.unplaced:
        raise InfeasiblePlan(
            f"{sum(u.replicas for u in plan.unplaced)} replica(s) of "
            f"{', '.join(u.deployment for u in plan.unplaced)} could not be placed"
        )


def register(app: typer.Typer) -> None:
    app.command("plan")(handle_errors(plan_command))


__all__ = ["load_plan", "plan_command", "register"]
