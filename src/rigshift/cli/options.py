"""Options several commands share, declared once so their flags and help read the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

NoMeasurementsOption = Annotated[
    bool, typer.Option("--no-measurements", help="Ignore stored measurements: priors alone.")
]
MeasurementsDbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Measurements database (default: $RIGSHIFT_DB or ~/.local/share/rigshift/rigshift.db).",
    ),
]
