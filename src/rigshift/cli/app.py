"""Entry point: `rigshift COMMAND ...`. Each command group lives in its own module, loaded lazily.

`rigshift --help` lists COMMANDS below without importing any command module, and running a
command imports only its own module (which imports its heavy libraries: FastAPI, Ray, HiGHS...).
That keeps `rigshift --help` and `rigshift estimate` well under half a second.
"""

from __future__ import annotations

import sys

import typer

from rigshift.cli.lazy import LazyCommand, lazy_group

# Every top-level command: name -> (module under rigshift.cli, the start of its help).
# To add a command module: write src/rigshift/cli/<module>.py with `register(app: typer.Typer)`
# (as the others do), then add ONE line here per command it registers, e.g.
#     "bench": LazyCommand("bench", "Measure tokens/s of a model on this rig's GPUs."),
# The help here must be the start of the command's own help: tests/cli/test_lazy_app.py checks
# each line against the module (and that every command a module registers is listed).
COMMANDS: dict[str, LazyCommand] = {
    "estimate": LazyCommand("estimate", "Memory, speed and fit of MODEL on GPU: weights, KV cache, tokens/s, max context, load time."),
    "assess": LazyCommand("assess", "Which GPUs of the fleet can do AI work, what exactly, and what holds the rest back."),
    "fleet": LazyCommand("fleet", "Fleet inventory: import HiveOS/minerstat/CSV/YAML, probe this machine, show a fleet."),
    "econ": LazyCommand("econ", "What each GPU class of FLEET nets a day mining, rented out and selling tokens;"),
    "plan": LazyCommand("plan", "Place every replica of DEMAND on the GPUs of FLEET, for the most value within its limits."),
    "gpus": LazyCommand("catalog", "The GPU catalog: VRAM, bandwidth, FP16/FP32/int8 rates, TDP, PCIe, Ethash history."),
    "models": LazyCommand("catalog", "The model catalog: architecture numbers from each model's published config.json."),
    "deploy": LazyCommand("run", "Plan DEMAND.yaml on the fleet and apply it."),
    "agent": LazyCommand("run", "Join this rig to the cluster as a Ray node labelled with its rig id, GPU models, VRAM and PCIe links."),
    "server": LazyCommand("server", "Run the control plane: management API, OpenAI-compatible gateway, telemetry, /metrics."),
    "up": LazyCommand("server", "Everything on this machine: database, local Ray, gateway, one replica."),
    "keys": LazyCommand("server", "Create, list and revoke API keys."),
    "bench": LazyCommand("bench", "Measure tokens/s with llama.cpp's llama-bench, or import its output;"),
    "energy": LazyCommand("energy", "Energy: prices, the policy, demand response."),
    "usage": LazyCommand("server", "Metered usage: requests, tokens, energy, revenue and revenue per GPU per day."),
    "ops": LazyCommand("ops", "Alerts, the operator's actions (drain, demand, bench, events) and their audit log."),
}  # fmt: skip

app = typer.Typer(
    name="rigshift",
    cls=lazy_group(COMMANDS),
    help="Turn a crypto-mining GPU farm into an AI inference business.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Turn a crypto-mining GPU farm into an AI inference business."""


def main() -> None:
    try:
        app()
    except ModuleNotFoundError as error:  # a command module that imports an extra at its top
        from rigshift.cli.errors import report
        from rigshift.extras import missing_extra

        extra = missing_extra(error)
        if extra is None:
            raise
        sys.exit(report(extra))


if __name__ == "__main__":
    main()
