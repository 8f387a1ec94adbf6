"""`rigshift bench`: measure this machine with llama-bench; `bench import`: results users have."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer._click.core import ParameterSource  # typer vendors click: its context, its enum

from rigshift.cli.errors import handle_errors
from rigshift.cli.options import AdminKeyOption, DbOption, ServerOption, transport
from rigshift.errors import InputError
from rigshift.estimate.runtimes import RUNTIMES
from rigshift.measure.importer import ImportDefaults
from rigshift.measure.types import Measurement

bench_app = typer.Typer(
    help="Measure tokens/s with llama.cpp's llama-bench, or import its output; results are stored "
    "and correct every estimate (see `rigshift estimate`).",
    invoke_without_command=True,
)
_err = Console(stderr=True, highlight=False)

JsonOption = Annotated[bool, typer.Option("--json", help="print the stored rows as JSON")]
FleetOption = Annotated[
    Path | None,
    typer.Option(
        "--fleet",
        help="also store the results in this fleet file's `measurements:` section (JSON or YAML; "
        "assess, econ, plan and `estimate --fleet` then use them)",
    ),
]


def _store(db: str | None) -> Any:
    from rigshift.measure.store import MeasurementStore
    from rigshift.server.db import open_engine

    return MeasurementStore(open_engine(db))


def _check_fleet(fleet: Path | None) -> str | None:
    """Refuse a fleet file that cannot take the results before minutes of benchmarking; the name
    of its rig this machine is (by hostname), if any, to attribute the rows to."""
    if fleet is None:
        return None
    import socket

    from rigshift.fleet.store import load_fleet
    from rigshift.measure.fleet_file import rig_named

    return rig_named(load_fleet(fleet), socket.gethostname())


def _store_in_fleet(fleet: Path | None, rows: list[Measurement]) -> None:
    if fleet is not None:
        from rigshift.measure.fleet_file import add_to_fleet_file

        added = add_to_fleet_file(fleet, rows)
        _err.print(f"{fleet}: {added} measurements added to its measurements section", markup=False)


def _print(rows: list[Measurement], as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in rows], indent=2))
        return
    from rigshift.tables import Col, fitted_table, output_console

    console = output_console()
    columns = (
        Col("card"), Col("runtime", drop=4), Col("model"), Col("quant"), Col("test"), Col("tok/s", "right"),
        Col("±", "right", drop=3), Col("memory GiB", "right", drop=2), Col("source", wrap=True, drop=1),
    )  # fmt: skip
    rows_text = [
        (
            r.card_name,
            r.runtime,
            r.model_key,
            r.quant,
            r.test,
            f"{r.tokens_per_s:.1f}",
            f"{r.stddev_tokens_per_s:.2f}",
            f"{r.gpu_memory_used_gib:.2f}" if r.gpu_memory_used_gib is not None else "-",
            r.source,
        )
        for r in rows
    ]
    console.print(fitted_table(columns, rows_text, console.width, title=title))


@bench_app.callback()
@handle_errors
def bench(
    ctx: typer.Context,
    runtime: Annotated[
        str | None, typer.Option(help=" | ".join(RUNTIMES[:4]) + " (default: each GPU's own)")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads for llama-bench (default: all cores)")
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help="MODEL:QUANT to bench instead of the standard set (repeat), e.g. llama-3.2-1b:Q4_0",
        ),
    ] = None,
    rig: Annotated[str | None, typer.Option(help="bench this rig through its agent (needs --server)")] = None,
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    db: DbOption = None,
    fleet: FleetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Measure this machine: for each distinct (GPU model, runtime) — the host CPU where there is
    no GPU — run llama-bench on zero-weight models of catalog shapes (Q4_0, Q4_K_M, Q8_0): pp512
    and tg128 on GPUs, pp64 and tg32 on the CPU. Progress goes to stderr; results are stored."""
    if ctx.invoked_subcommand is not None:
        return
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be at least 1, got {threads}", field="--threads")
    this_rig = _check_fleet(fleet)
    # RIGSHIFT_SERVER alone keeps a plain `rigshift bench` on this machine; --server typed
    # without --rig is a mistake.
    typed_server = ctx.get_parameter_source("server") == ParameterSource.COMMANDLINE
    if rig or typed_server:
        if not (rig and server):
            raise InputError("--rig and --server go together", field="--rig", expected="both, or neither")
        rows = _bench_remote(server, admin_key, rig, runtime, threads, model, transport(ctx))
    else:
        from rigshift.measure.service import parse_model_choices, run_bench

        chosen = parse_model_choices(model)
        measured = run_bench(
            runtime,
            lambda line: _err.print(line, markup=False),
            threads=threads,
            models=chosen,
            rig=this_rig,
        )
        rows = _store(db).add(measured)
    _store_in_fleet(fleet, rows)
    _print(rows, as_json, f"{len(rows)} measurements stored")


def _bench_remote(
    server: str,
    admin_key: str | None,
    rig: str,
    runtime: str | None,
    threads: int | None,
    models: list[str] | None,
    http: Any,  # an httpx transport, or None
) -> list[Measurement]:
    from rigshift.client.control_plane import admin_client

    with admin_client(server, admin_key, transport=http, timeout=900) as client:
        _err.print(f"asking {server} to bench rig {rig} through its agent (minutes)", markup=False)
        body = {"rig": rig, "runtime": runtime, "threads": threads, "models": models}
        answer = client.call("POST", "/admin/measurements/bench", json_body=body)
    return [Measurement.from_json(row) for row in answer["data"]]


@bench_app.command("import")
@handle_errors
def bench_import(
    files: Annotated[
        list[Path],
        typer.Argument(help="llama-bench output (md, csv, json, jsonl, sql) or Ollama --verbose timings"),
    ],
    gpu: Annotated[
        str | None, typer.Option(help='the GPU, where the file does not say: "RX 580 8GB"')
    ] = None,
    runtime: Annotated[str | None, typer.Option(help="the runtime, where the file does not say")] = None,
    model: Annotated[str | None, typer.Option(help="catalog model, where the file does not say")] = None,
    quant: Annotated[str | None, typer.Option(help="quantization, where the file does not say")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="read and map, store nothing")] = False,
    db: DbOption = None,
    fleet: FleetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import llama-bench results users already have; names are mapped to the catalogs. The
    first unreadable line stops the import with FILE:LINE and nothing is stored."""
    from rigshift.measure.service import import_measurements

    rows = import_measurements(files, ImportDefaults(gpu=gpu, runtime=runtime, model=model, quant=quant))
    if dry_run:
        _print(rows, as_json, f"{len(rows)} measurements read")
        return
    _check_fleet(fleet)
    stored = _store(db).add(rows)
    _store_in_fleet(fleet, rows)
    repeats = len(rows) - len(stored)
    note = f" ({repeats} already stored from the same file and line)" if repeats else ""
    _print(stored, as_json, f"{len(stored)} measurements stored{note}")


@bench_app.command("list")
@handle_errors
def bench_list(
    card: Annotated[str | None, typer.Option(help="catalog key of one card (host-cpu for the CPU)")] = None,
    runtime: Annotated[str | None, typer.Option()] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The stored measurements."""
    rows = _store(db).list(card_key=card, runtime=runtime)
    _print(rows, as_json, f"{len(rows)} measurements")


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(bench_app())
