"""`rigshift energy`: replay the energy policy over a price file; demand-response events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from rigshift.cli.errors import handle_errors
from rigshift.cli.options import (
    AdminKeyOption,
    DbOption,
    FleetArgument,
    HtmlReportOption,
    JsonResultOption,
    MaxTtftOption,
    ServerOption,
    fleet_or_demo,
    transport,
)
from rigshift.decision.types import DEFAULT_MAX_TTFT_S
from rigshift.energy.contracts import PowerTerms, check_power_sites, read_power_terms
from rigshift.energy.demand import check_sites, decision_demand, read_demand, read_events
from rigshift.energy.farm import build_farm
from rigshift.energy.html import render_html
from rigshift.energy.prices import FORMATS, read_price_series
from rigshift.energy.report import print_report
from rigshift.energy.simulate import simulate
from rigshift.errors import InputError, Problem
from rigshift.fleet.store import write_atomic

energy_app = typer.Typer(help="Energy: prices, the policy, demand response.", no_args_is_help=True)
DEMO_SITE = "tx-ercot"  # the demo farm's Texas site buys at ERCOT prices
DEMO_TIMEZONE = "America/Chicago"
POWER_HELP = (
    "Power contracts and programs per site: index or fixed price, demand response, 4CP (docs/energy.md)."
)
TIMEZONE_HELP = "Local time of the demand's daily profile (default: UTC; --demo: America/Chicago)."


def simulate_command(
    fleet: FleetArgument = None,
    prices: Annotated[
        Path | None,
        typer.Option(
            "--prices",
            help="Power prices: ERCOT CSV (NP4-190-CD, NP6-905-CD, NP4-180-ER), plain CSV or a tariff YAML (--demo: ERCOT HB_NORTH day-ahead 2024, bundled).",
        ),
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Use the bundled demo fleet and its default demand.")
    ] = False,
    demand: Annotated[
        Path | None, typer.Option("--demand", help="Demand file (YAML/JSON, docs/energy.md).")
    ] = None,
    events: Annotated[
        Path | None, typer.Option("--events", help="Demand-response events (YAML/JSON list).")
    ] = None,
    site: Annotated[
        list[str] | None,
        typer.Option("--site", help="Sites the prices apply to (default: all; --demo: tx-ercot)."),
    ] = None,
    settlement_point: Annotated[
        str | None, typer.Option("--settlement-point", help="Which point of a multi-point ERCOT file.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help=f"Price file format: {', '.join(FORMATS)}.")] = "auto",
    day_ahead: Annotated[
        bool | None,
        typer.Option(
            "--day-ahead/--no-day-ahead",
            help="Prices are day-ahead, known 24 h ahead (default: when the file is an ERCOT day-ahead report).",
        ),
    ] = None,
    step: Annotated[
        int | None, typer.Option("--step", help="Interval in minutes: 5, 15 or 60 (default: the file's).")
    ] = None,
    econ_prices: Annotated[
        Path | None,
        typer.Option("--econ-prices", help="Econ prices file (token prices, coins); defaults fill the rest."),
    ] = None,
    model_class: Annotated[
        str, typer.Option("--model-class", help="Model class the converted cards serve.")
    ] = "8b",
    as_json: JsonResultOption = False,
    html: HtmlReportOption = None,
    econ_demand: Annotated[
        Path | None,
        typer.Option(
            "--econ-demand",
            help="The farm decision's demand (econ's --demand: a demand file, a plan's demand file or usage).",
        ),
    ] = None,
    max_ttft: MaxTtftOption = DEFAULT_MAX_TTFT_S,
    power: Annotated[Path | None, typer.Option("--power", help=POWER_HELP)] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help=TIMEZONE_HELP)] = None,
    width: Annotated[
        int | None, typer.Option("--width", help="Text width (default: the terminal's).")
    ] = None,
) -> None:
    """Replay the energy policy over the span of the price file against the baselines miners run:
    always on, mining only, mining curtailed, AI curtailed.

    The converted cards, the demand and the staff cost are the farm decision's (docs/decision.md; its
    prices are --econ-prices and its demand --econ-demand): the rest keep mining. --json carries the
    decision as `decision`."""
    fleet_data = fleet_or_demo(fleet, demo)
    if prices is None and demo:
        from rigshift.energy.prices import DEMO_PRICES, DEMO_PRICES_NAME

        prices = DEMO_PRICES
        typer.echo(f"prices: {DEMO_PRICES_NAME}; --prices for your own", err=True)
    if prices is None:
        raise InputError(
            Problem("--prices is required with a FLEET file", field="--prices", expected="a price file")
        )
    if step is not None and step not in (5, 15, 60):
        raise InputError(Problem(f"--step must be 5, 15 or 60, got {step}", field="--step"))
    sites = site or ([DEMO_SITE] if demo else None)
    from rigshift.decision.render import print_decision, with_decision_html
    from rigshift.decision.schedule import converted_by_class
    from rigshift.decision.service import decision_for, with_decision

    made, _ = decision_for(fleet_data, prices=econ_prices, demand=econ_demand, max_ttft_s=max_ttft)
    farm = build_farm(
        fleet_data, econ_prices, model_class=model_class, sites=sites, converted=converted_by_class(made.gpus)
    )
    series = read_price_series(prices, fmt, settlement_point)
    if step is not None:
        series = series.resample(step * 60)
    zone = timezone or (DEMO_TIMEZONE if demo else "UTC")
    demand_data = read_demand(demand) if demand is not None else decision_demand(made, farm, zone)
    event_list = read_events(events) if events is not None else []
    terms = read_power_terms(power) if power is not None else PowerTerms()
    check_sites(demand_data, event_list, farm, str(demand or events or "demand"))
    check_power_sites(terms, [s.site for s in farm.sites], str(power))
    known_ahead = series.kind == "day-ahead" if day_ahead is None else day_ahead
    sim = simulate(
        farm,
        {s.site: series for s in farm.sites},
        demand_data,
        event_list,
        day_ahead=known_ahead,
        terms=terms,
    )
    if html is not None:
        write_atomic(html, with_decision_html(render_html(sim), made.summary))
    if as_json:
        typer.echo(with_decision(json.dumps(sim.to_json(), separators=(",", ":")), made.summary))
        return
    out = Console(highlight=False, soft_wrap=False, width=width)
    print_decision(made.summary, out)
    print_report(sim.to_json(with_intervals=False), out)
    if html is not None:
        typer.echo(f"wrote {html}")


def _instant(text: str, field: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            Problem(f"not a time: {text!r}", field=field, expected="ISO 8601 or unix seconds")
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def event_command(
    ctx: typer.Context,
    site: Annotated[str, typer.Option("--site", help="The site that must shed.")],
    end: Annotated[str, typer.Option("--end", help="When the event ends (ISO 8601 or unix seconds).")],
    shed_kw: Annotated[
        float | None, typer.Option("--shed-kw", help="kW to shed below the site's draw.")
    ] = None,
    target_kw: Annotated[
        float | None, typer.Option("--target-kw", help="...or the draw to stay under.")
    ] = None,
    start: Annotated[str | None, typer.Option("--start", help="When it starts (default: now).")] = None,
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    db: DbOption = None,
) -> None:
    """Announce a demand-response event: the server's energy loop keeps SITE under its target from
    START to END (batch and mining pause first, interactive replicas last) and logs what it shed."""
    begins = _instant(start, "--start") if start else None
    ends = _instant(end, "--end")
    from rigshift.client.control_plane import EventRequest

    request = EventRequest(site, ends, begins, shed_kw, target_kw)
    event = _plane(ctx, server, admin_key, db).create_energy_event(request)
    typer.echo(json.dumps(event, indent=2))


def events_command(
    ctx: typer.Context,
    site: Annotated[str | None, typer.Option("--site", help="Only this site.")] = None,
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    db: DbOption = None,
) -> None:
    """List demand-response events with what each shed, avoided and paused."""
    typer.echo(json.dumps({"data": _plane(ctx, server, admin_key, db).energy_events(site)}, indent=2))


def _plane(ctx: typer.Context, server: str | None, admin_key: str | None, db: str | None) -> Any:
    from rigshift.client.control_plane import control_plane

    return control_plane(server, admin_key, db, transport=transport(ctx))


def register(app: typer.Typer) -> None:
    energy_app.command("simulate")(handle_errors(simulate_command))
    energy_app.command("event")(handle_errors(event_command))
    energy_app.command("events")(handle_errors(events_command))
    app.add_typer(energy_app, name="energy")


__all__ = ["event_command", "events_command", "register", "simulate_command"]
