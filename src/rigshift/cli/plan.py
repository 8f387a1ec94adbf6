"""`rigshift plan FLEET DEMAND`: where every replica goes, and why anything could not be placed."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from rigshift.cli.errors import handle_errors
from rigshift.cli.options import (
    DbOption,
    DecisionDemandOption,
    FleetArgument,
    MaxTtftOption,
    NoMeasurementsOption,
    PricesOption,
    fleet_or_demo,
)
from rigshift.decision import DEFAULT_MAX_TTFT_S
from rigshift.decision.views import with_decision, without_decision
from rigshift.errors import InfeasiblePlan, InputError, Problem
from rigshift.files import write_atomic
from rigshift.fleet.model import Fleet
from rigshift.plan import Plan, PlanOptions, load_demand, plan_placement
from rigshift.plan.report import render_explain, render_html, render_summary
from rigshift.readers import LIMITS, load_json, problems_from_validation, read_text
from rigshift.tables import output_console

if TYPE_CHECKING:
    from rigshift.decision import FarmDecision


def load_plan(path: Path) -> Plan:
    expected = "a plan written by `rigshift plan --out`"
    text = read_text(path, expected, max_bytes=LIMITS.fleet_file_bytes)
    if '"decision"' in text[:200]:  # `plan --json` output: the plan less the decision beside it
        with contextlib.suppress(ValueError):  # not JSON: the validation below says where
            text = without_decision(text)
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
    fleet: FleetArgument = None,
    demand: Annotated[
        Path | None,
        typer.Argument(
            help="Demand file (YAML): deployments, values, constraints. Left out: the farm decision's "
            "demand on the cards it converts."
        ),
    ] = None,
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
    prices: PricesOption = None,
    decision_demand: DecisionDemandOption = None,
    max_ttft: MaxTtftOption = DEFAULT_MAX_TTFT_S,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Plan the bundled demo fleet instead of FLEET (no DEMAND: the decision's)."
        ),
    ] = False,
) -> None:
    """Place every replica of DEMAND on the GPUs of FLEET, for the most value within its limits.

    Without DEMAND the plan is the farm decision's (docs/decision.md): the demand the conversion
    plan serves, placed on the cards it converts, their miners stopped. With DEMAND it is a what-if
    of those deployments on every usable GPU of FLEET; either way `--json` carries the decision
    (computed with --demand, else DEMAND, as its demand) as its top-level `decision`. `--demand`
    takes what econ's does (a demand file, a plan's demand file or usage).

    Power, memory, host (CPU cores, RAM, disk) and speed limits are respected: a replica slower than
    its deployment's min_tokens_per_s (default: the assessment's 20 tokens/s per stream) is never
    placed. Prints what runs where, $/h, what is unmet and what would change it; `--json` or `--out`
    has every replica with its GPUs, tensor split and power caps. Exit code 3 when some demand
    cannot be met (the plan is still written).
    """
    # Imported here: the decision runs the economics (HiGHS), which `plan --help` must not load.
    from rigshift.decision.service import decision_for

    fleet_data = fleet_or_demo(fleet, demo)
    demand_data = load_demand(demand) if demand is not None else None  # its errors name the file first
    made, tools = decision_for(
        fleet_data, prices=prices, demand=decision_demand or demand, db=db, use_measurements=not no_measurements,
        max_ttft_s=max_ttft,
    )  # fmt: skip
    current_plan = load_plan(current) if current else None
    if demand is None:
        _emit(
            made.plan or empty_plan(fleet_data, made.summary.verdict),
            made,
            fleet_data,
            out,
            html,
            as_json,
            explain,
        )
        return
    assert demand_data is not None
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

    plan = plan_placement(fleet_data, demand_data, current=current_plan, options=options, tools=tools)
    _emit(plan, made, fleet_data, out, html, as_json, explain, what_if=str(demand))


def empty_plan(fleet: Fleet, why: str) -> Plan:
    """The plan when the decision converts no card: nothing placed, and why."""
    return Plan(
        fleet=fleet.name, replicas=[], objective=0.0, bound=None, gap=None, solver="none",
        solver_status="nothing to place", solve_seconds=0.0, revenue_usd_per_h=0.0,
        power_cost_usd_per_h=0.0, gpus=fleet.gpu_count, notes=[f"the farm decision converts no card: {why}"],
    )  # fmt: skip


def _emit(
    plan: Plan,
    made: FarmDecision,
    fleet: Fleet,
    out: Path | None,
    html: Path | None,
    as_json: bool,
    explain: bool,
    what_if: str | None = None,
) -> None:
    from rigshift.decision.render import print_decision, with_decision_html

    text = plan.model_dump_json(indent=2)
    if out is not None:
        write_atomic(out, text + "\n")  # the plan alone: what `rigshift run` and --current read
    if html is not None:
        write_atomic(html, with_decision_html(render_html(plan, fleet), made.summary))
    if as_json:
        typer.echo(with_decision(text, made.summary))
    else:
        console = output_console()
        print_decision(made.summary, console)
        if what_if is not None:
            console.print(
                f"What-if: {what_if}'s deployments on every usable GPU (the decision above places its "
                f"demand on the {made.summary.funnel.converted:,} GPUs it converts)."
            )
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
