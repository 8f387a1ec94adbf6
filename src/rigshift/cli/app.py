"""Entry point: `rigshift COMMAND ...`. Each command group lives in its own module."""

from __future__ import annotations

import typer

from rigshift.cli import assess as assess_cli
from rigshift.cli import bench as bench_cli
from rigshift.cli import catalog as catalog_cli
from rigshift.cli import econ as econ_cli
from rigshift.cli import estimate as estimate_cli
from rigshift.cli import fleet as fleet_cli
from rigshift.cli import plan as plan_cli
from rigshift.cli import run as run_cli
from rigshift.cli import server as server_cli

app = typer.Typer(
    name="rigshift",
    help="Turn a crypto-mining GPU farm into an AI inference business.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

estimate_cli.register(app)
assess_cli.register(app)
fleet_cli.register(app)
plan_cli.register(app)
run_cli.register(app)
catalog_cli.register(app)
server_cli.register(app)
econ_cli.register(app)
bench_cli.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
