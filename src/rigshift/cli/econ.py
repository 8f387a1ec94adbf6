"""`rigshift econ`: mining vs rental vs inference per card class, a conversion plan, sensitivity."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from rigshift.cli.errors import handle_errors
from rigshift.cli.options import (
    DbOption,
    DecisionDemandOption,
    DemoFleetOption,
    FleetArgument,
    HtmlReportOption,
    JsonResultOption,
    MaxTtftOption,
    NoMeasurementsOption,
    PricesOption,
    fleet_or_demo,
)
from rigshift.decision import DEFAULT_MAX_TTFT_S
from rigshift.errors import InputError, Problem
from rigshift.files import write_atomic
from rigshift.tables import output_console


def econ_command(
    fleet: FleetArgument = None,
    prices: PricesOption = None,
    demo: DemoFleetOption = False,
    as_json: JsonResultOption = False,
    html: HtmlReportOption = None,
    budget: Annotated[
        float | None,
        typer.Option("--budget", help="Capex budget in USD (new money on top of sale proceeds)."),
    ] = None,
    details: Annotated[
        bool, typer.Option("--details", help="Show every use and model class per card.")
    ] = False,
    no_measurements: NoMeasurementsOption = False,
    db: DbOption = None,
    no_sensitivity: Annotated[
        bool, typer.Option("--no-sensitivity", help="Skip the power/token price sweep.")
    ] = False,
    demand: DecisionDemandOption = None,
    usage_days: Annotated[
        float,
        typer.Option("--usage-days", help="Days the usage export given to --demand covers (default 1)."),
    ] = 1.0,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="The day the figures are for (YYYY-MM-DD, default today): coin block rewards follow "
            "each chain's emission schedule at this date.",
        ),
    ] = None,
    no_assessment: Annotated[
        bool,
        typer.Option(
            "--no-assessment",
            help="Count token revenue wherever a model fits, without the assessment's quality bar.",
        ),
    ] = False,
    max_ttft: MaxTtftOption = DEFAULT_MAX_TTFT_S,
) -> None:
    """What each GPU class of FLEET nets a day mining, rented out and selling tokens; which cards to
    convert, keep mining, sell or replace, at what cost and payback; and how that changes with the
    power and token prices. Every default used is listed with its date and source."""
    fleet_data = fleet_or_demo(fleet, demo)
    if budget is not None and budget < 0:
        raise InputError(Problem(f"budget must be ≥ 0, got {budget}", field="--budget"))
    day = _as_of_date(as_of)
    # Imported here: the economics pull in HiGHS and numpy, which `rigshift --help` must not pay for.
    from rigshift.decision.render import print_decision, with_decision_html
    from rigshift.decision.service import decision_for, with_decision
    from rigshift.econ.html import render_html
    from rigshift.econ.render import render_terminal
    from rigshift.econ.service import fleet_economics

    # The farm decision (docs/decision.md): its economics are this command's, unless
    # --no-assessment asks for the economics without the assessment's quality bar.
    made, tools = decision_for(
        fleet_data,
        prices=prices,
        demand=demand,
        usage_days=usage_days,
        budget=budget,
        db=db,
        use_measurements=not no_measurements,
        max_ttft_s=max_ttft,
        with_sensitivity=not no_sensitivity,
        as_of=day,
    )
    economics = made.economics
    if no_assessment or economics is None:  # None: nothing priceable; the economics say why (exit 2)
        economics = fleet_economics(
            fleet_data,
            prices,
            capex_budget_usd=budget,
            with_sensitivity=not no_sensitivity,
            use_assessment=not no_assessment,
            demand=demand,
            usage_days=usage_days,
            tools=tools,
            as_of=day,
        )
    if html is not None:
        write_atomic(html, with_decision_html(render_html(economics), made.summary))
    if as_json:
        typer.echo(with_decision(economics.model_dump_json(indent=2), made.summary))
    else:
        console = output_console()
        print_decision(made.summary, console)
        render_terminal(economics, console, details=details)
        if html is not None:
            typer.echo(f"wrote {html}")


def _as_of_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            Problem(
                f"not a date: {text!r}", field="--as-of", expected="a date as YYYY-MM-DD, e.g. 2026-12-07"
            )
        ) from None


def register(app: typer.Typer) -> None:
    app.command("econ")(handle_errors(econ_command))


__all__ = ["econ_command", "register"]
