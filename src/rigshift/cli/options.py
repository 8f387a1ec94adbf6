"""Options several commands share, declared once so their flags and help read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypedDict, Unpack

import typer

from rigshift.errors import InputError, Problem

if TYPE_CHECKING:
    import httpx

    from rigshift.fleet.model import Fleet

NoMeasurementsOption = Annotated[
    bool, typer.Option("--no-measurements", help="Ignore stored measurements: priors alone.")
]
FleetArgument = Annotated[
    Path | None, typer.Argument(help="Fleet file (JSON or YAML) as `rigshift fleet` writes it.")
]
DemoFleetOption = Annotated[bool, typer.Option("--demo", help="Use the bundled demo fleet instead of FLEET.")]
JsonResultOption = Annotated[bool, typer.Option("--json", help="Print the whole result as JSON.")]
HtmlReportOption = Annotated[
    Path | None, typer.Option("--html", help="Also write a self-contained HTML report here.")
]
# The one database: keys, usage, deployments and the measurements that correct every estimate.
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL or SQLite path (default: $RIGSHIFT_DB or ~/.local/share/rigshift/rigshift.db).",
    ),
]
# Every command that can talk to a running control plane takes it this way, so RIGSHIFT_SERVER
# means the same for all of them (a test walks the command tree and checks it).
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="RIGSHIFT_SERVER",
        help="A running control plane's URL, e.g. http://10.0.0.2:8000 (default: $RIGSHIFT_SERVER).",
    ),
]
AdminKeyOption = Annotated[
    str | None,
    typer.Option("--admin-key", envvar="RIGSHIFT_ADMIN_KEY", help="An admin key for --server."),
]


def transport(ctx: typer.Context) -> httpx.BaseTransport | None:
    """The HTTP transport the command's control-plane client uses: the click context's object
    when the caller gave one (tests: `CliRunner().invoke(app, args, obj=httpx.MockTransport(…))`),
    else httpx's own (the network)."""
    import httpx

    obj = ctx.find_root().obj
    return obj if isinstance(obj, httpx.BaseTransport) else None


# The farm decision's inputs (docs/decision.md): the same flags on assess, econ, plan and energy
# simulate, so the same files give the same `decision` in each.
PricesOption = Annotated[
    Path | None,
    typer.Option(
        "--prices", "-p", help="Prices file (YAML/JSON, docs/economics.md); defaults fill the rest."
    ),
]
DecisionDemandOption = Annotated[
    Path | None,
    typer.Option(
        "--demand",
        help="What there is to sell: a demand file (requests/tokens per day per price class), a plan's "
        "demand file, or `rigshift usage --by model --json` output (JSON or CSV).",
    ),
]
MaxTtftOption = Annotated[
    float,
    typer.Option(
        "--max-ttft",
        min=0.01,
        help="Service level: seconds to the first token for the workload's prompt [2].",
    ),
]


class DemoShape(TypedDict, total=False):
    """The demo fleet's knobs a command may set (assess: --seed, --scale)."""

    seed: int
    scale: int


def fleet_or_demo(fleet: Path | None, demo: bool, **demo_args: Unpack[DemoShape]) -> Fleet:
    """FLEET's fleet, or with --demo the bundled demo fleet (`demo_args`: its seed and scale); one
    of the two, never both and never neither."""
    if demo == (fleet is not None):
        raise InputError(
            Problem(
                "give a FLEET file or --demo, not both and not neither", field="FLEET", expected="one of them"
            )
        )
    from rigshift.fleet.demo import demo_fleet
    from rigshift.fleet.store import load_fleet

    return demo_fleet(**demo_args) if fleet is None else load_fleet(fleet)
