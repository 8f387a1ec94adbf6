"""Options several commands share, declared once so their flags and help read the same everywhere."""

from __future__ import annotations

from pathlib import Path
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
