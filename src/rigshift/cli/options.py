"""Options several commands share, declared once so their flags and help read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import httpx

NoMeasurementsOption = Annotated[
    bool, typer.Option("--no-measurements", help="Ignore stored measurements: priors alone.")
]
FleetArgument = Annotated[
    Path | None, typer.Argument(help="Fleet file (JSON or YAML) as `rigshift fleet` writes it.")
]
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
