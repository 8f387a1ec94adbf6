"""`rigshift fleet import|show|probe|demo`: read inventories into one normalised fleet file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.markup import escape

from rigshift.cli.errors import handle_errors
from rigshift.errors import InputError
from rigshift.fleet.demo import demo_fleet
from rigshift.fleet.importer import FORMATS, Format, ImportResult, import_files
from rigshift.fleet.model import Fleet
from rigshift.fleet.names import CatalogResolver
from rigshift.fleet.sources.common import Parsed
from rigshift.fleet.sources.hiveos import parse_hiveos
from rigshift.fleet.sources.hiveos_api import HIVEOS_API, fetch_farm
from rigshift.fleet.sources.probe import probe_machine
from rigshift.fleet.store import dump_fleet, load_fleet, save_fleet
from rigshift.fleet.summary import ambiguity_warning, summarize
from rigshift.tables import Col, fitted_table, output_console

fleet_app = typer.Typer(
    help="Fleet inventory: import HiveOS/minerstat/CSV/YAML, probe this machine, show a fleet.",
    no_args_is_help=True,
)
_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(fleet_app, name="fleet")


@fleet_app.command("import")
@handle_errors
def import_command(
    sources: Annotated[
        list[Path] | None, typer.Argument(help="inventory files (CSV, YAML, HiveOS or minerstat JSON)")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="csv, yaml, hiveos, minerstat, fleet or auto")
    ] = "auto",
    hiveos_token: Annotated[
        str | None,
        typer.Option("--hiveos-token", envvar="RIGSHIFT_HIVEOS_TOKEN", help="HiveOS API token (live import)"),
    ] = None,
    farm_id: Annotated[int | None, typer.Option("--farm-id", help="HiveOS farm id (live import)")] = None,
    hiveos_url: Annotated[str, typer.Option("--hiveos-url", help="HiveOS API base URL")] = HIVEOS_API,
    probe: Annotated[
        bool, typer.Option("--probe", help="also probe this machine's GPUs and merge them")
    ] = False,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="fleet file to write (.json, or .yaml)")
    ] = Path("fleet.json"),
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="import the valid entries, list the rest")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="what was written, as JSON")] = False,
) -> None:
    """Read inventories, merge them (docs/fleet.md: precedence), write a normalised fleet file.

    Every problem of every source is reported at once and nothing is written, unless
    --skip-invalid. The file is replaced atomically: a failed import leaves the old one intact.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}", field="--format", expected=", ".join(FORMATS))
    if (hiveos_token is None) != (farm_id is None):
        raise InputError(
            "a live HiveOS import needs both",
            field="--hiveos-token/--farm-id",
            expected="--hiveos-token T --farm-id N",
        )
    if not sources and farm_id is None and not probe:
        raise InputError(
            "nothing to import", expected="inventory files, --hiveos-token/--farm-id, or --probe"
        )
    resolver = CatalogResolver()
    extra: list[Parsed] = []
    if hiveos_token is not None and farm_id is not None:
        bundle = fetch_farm(hiveos_token, farm_id, base_url=hiveos_url)
        extra.append(parse_hiveos(bundle, f"{hiveos_url}/farms/{farm_id}", resolver))
    if probe:
        extra.append(probe_machine(resolver))
    result = import_files(
        sources or [], cast(Format, fmt), skip_invalid=skip_invalid, resolver=resolver, extra=extra
    )
    save_fleet(result.fleet, output)
    if as_json:
        typer.echo(json.dumps(_import_json(result, output), indent=2))
        return
    _report_import(result, output)


def _import_json(result: ImportResult, output: Path) -> dict[str, Any]:
    fleet = result.fleet
    return {
        "output": str(output),
        "rigs": len(fleet.rigs),
        "gpus": fleet.gpu_count,
        "sites": len(fleet.sites),
        "skipped": list(result.skipped),
        "problems": [p.render() for p in result.problems],
        "unresolved": summarize(fleet)["unresolved"],
        "ambiguous": summarize(fleet)["ambiguous"],
        "notes": list(result.notes),
    }


_SHOWN = 20  # lines of one kind printed after an import; `fleet show` lists everything


def _at_most(lines: list[str]) -> list[str]:
    more = len(lines) - _SHOWN
    return lines[:_SHOWN] + ([f"… and {more:,} more"] if more > 0 else [])


def _report_import(result: ImportResult, output: Path) -> None:
    fleet = result.fleet
    _out.print(f"wrote {output}: {len(fleet.rigs)} rigs, {fleet.gpu_count} GPUs, {len(fleet.sites)} sites")
    if result.skipped:
        _err.print(f"[yellow]skipped {len(result.skipped)} invalid entries:[/]")
        for line in _at_most(result.skipped):
            _err.print(f"  {line}", markup=False)
        for line in _at_most([problem.render() for problem in result.problems]):
            _err.print(f"    {line}", markup=False)
    unresolved_names = summarize(fleet)["unresolved"]
    for unresolved in unresolved_names[:_SHOWN]:
        hint = (
            f"; did you mean: {', '.join(unresolved['did_you_mean'])}?" if unresolved["did_you_mean"] else ""
        )
        _err.print(
            f"[yellow]unknown GPU[/] {escape(repr(unresolved['reported_name']))} x{unresolved['count']} "
            f"(kept as 'unresolved'){escape(hint)}"
        )
    if len(unresolved_names) > _SHOWN:
        _err.print(f"[yellow]… and {len(unresolved_names) - _SHOWN:,} more unknown GPU names[/]")
    for line in _at_most([ambiguity_warning(a) for a in summarize(fleet)["ambiguous"]]):
        _err.print(f"[yellow]warning:[/] {escape(line)}")
    for note in result.notes:
        _err.print(f"note: {note}", markup=False)


@fleet_app.command("show")
@handle_errors
def show_command(
    fleet_file: Annotated[Path, typer.Argument(help="a fleet file written by `rigshift fleet import`")],
    as_json: Annotated[bool, typer.Option("--json", help="the summary as JSON")] = False,
) -> None:
    """Summarise a fleet: sites, GPUs by model, VRAM totals, PCIe links, unresolved names."""
    fleet = load_fleet(fleet_file)
    summary = summarize(fleet)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    out = output_console()
    out.print(
        f"[bold]{escape(summary['name'])}[/]: {summary['rigs']} rigs, {summary['gpus']} GPUs, "
        f"{summary['vram_gib']:.0f} GiB VRAM; {summary['gpus_mining']} GPUs still mining, "
        f"holding {summary['vram_used_by_others_gib']:.0f} GiB"
    )
    width = out.width
    site_rows = [
        (
            s["site"],
            str(s["rigs"]),
            str(s["gpus"]),
            f"{s['vram_gib']:.0f}",
            _num(s.get("power_price_usd_kwh")),
            _num(s.get("power_budget_kw")),
        )
        for s in summary["sites"]
    ]
    site_cols = (
        Col("site"),
        Col("rigs", "right"),
        Col("GPUs", "right"),
        Col("VRAM GiB", "right", drop=1),
        Col("$/kWh", "right", drop=2),
        Col("budget kW", "right", drop=3),
    )
    out.print(fitted_table(site_cols, site_rows, width, title="Sites"))
    model_rows = [
        (
            m["model"],
            m["reported_name"] or "",
            str(m["count"]),
            f"{m['vram_gib']:g}",
            f"{m['vram_total_gib']:g}",
            # "Gen1 x1" -> "G1x1" so the column stays narrow
            " ".join(f"{k.replace('Gen', 'G').replace(' ', '')}:{v}" for k, v in m["links"].items()),
        )
        for m in summary["by_model"]
    ]
    model_cols = (
        Col("model"),
        Col("reported as", wrap=True, drop=3),
        Col("count", "right"),
        Col("VRAM GiB", "right", drop=1),
        Col("VRAM total", "right", drop=2),
        Col("links", wrap=True, drop=4),
    )
    out.print(fitted_table(model_cols, model_rows, width, title="GPUs by model"))
    link_rows = [(link, str(count)) for link, count in summary["links"].items()]
    out.print(fitted_table((Col("link"), Col("GPUs", "right")), link_rows, width, title="PCIe links"))
    if summary["unresolved"]:
        bad_rows = [
            (
                str(u["reported_name"]),
                str(u["count"]),
                ", ".join(u["rigs"][:5]) + (" ..." if len(u["rigs"]) > 5 else ""),
                ", ".join(u["did_you_mean"]),
            )
            for u in summary["unresolved"]
        ]
        bad_cols = (
            Col("reported name"),
            Col("count", "right"),
            Col("rigs", wrap=True, drop=2),
            Col("did you mean", wrap=True, drop=1),
        )
        out.print(fitted_table(bad_cols, bad_rows, width, title="Unresolved GPU names (not in the catalog)"))
    for entry in summary.get("ambiguous", []):
        out.print(f"[yellow]warning:[/] {escape(ambiguity_warning(entry))}")


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


@fleet_app.command("probe")
@handle_errors
def probe_command(
    as_json: Annotated[bool, typer.Option("--json", help="the probed rig as fleet JSON")] = False,
) -> None:
    """Probe this machine's GPUs (NVML, amdsmi, rocm-smi); exit 5 when it has none."""
    parsed = probe_machine(CatalogResolver())
    for problem in parsed.problems:
        _err.print(f"[yellow]warning:[/] {escape(problem.render())}")
    if as_json:
        typer.echo(dump_fleet(parsed.fleet))
        return
    _print_summary(summarize(parsed.fleet))
    rows = []
    for _, gpu in parsed.fleet.gpus():
        link = (
            f"Gen{gpu.pcie.gen} x{gpu.pcie.width} ({gpu.pcie.max_gen or '?'} x{gpu.pcie.max_width or '?'})"
            if gpu.pcie
            else "?"
        )
        power = gpu.power
        watts = f"{_num(power.current)} ({_num(power.min)}-{_num(power.max)})" if power else ""
        rows.append(
            (
                str(gpu.index),
                gpu.model,
                gpu.bus_id or "",
                f"{gpu.vram_gib:g}",
                f"{gpu.vram_used_by_others_gib:g}",
                link,
                watts,
                _num(gpu.temperature_c),
            )
        )
    columns = (
        Col("index", "right"),
        Col("model"),
        Col("bus id", drop=2),
        Col("VRAM GiB", "right"),
        Col("used by others", "right", drop=3),
        Col("link (max)", drop=1),
        Col("power W (min-max)", drop=4),
        Col("°C", "right", drop=5),
    )
    out = output_console()
    out.print(fitted_table(columns, rows, out.width, title="GPUs"))


@fleet_app.command("demo")
@handle_errors
def demo_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="fleet file to write")] = Path(
        "demo-fleet.json"
    ),
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    scale: Annotated[int, typer.Option(help="about this many GPUs")] = 2000,
    as_json: Annotated[bool, typer.Option("--json", help="what was written, as JSON")] = False,
) -> None:
    """Write the bundled synthetic demo fleet (a former Ethereum farm; docs/fleet.md)."""
    if scale < 1:
        raise InputError(f"bad value {scale}", field="--scale", expected="a whole number >= 1")
    fleet: Fleet = demo_fleet(seed=seed, scale=scale)
    save_fleet(fleet, output)
    if as_json:
        written = {"output": str(output), "rigs": len(fleet.rigs), "gpus": fleet.gpu_count}
        typer.echo(json.dumps({**written, "sites": len(fleet.sites)}, indent=2))
        return
    _out.print(f"wrote {output}: {len(fleet.rigs)} rigs, {fleet.gpu_count} GPUs, {len(fleet.sites)} sites")
