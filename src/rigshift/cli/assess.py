"""`rigshift assess FLEET | --demo`: which GPUs can do AI work, what exactly, and what holds the rest back."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console

from rigshift.assess import FleetAssessment, ModelClass, ReadinessCriteria, assess_fleet
from rigshift.assess.render_html import render_html
from rigshift.assess.render_terminal import print_assessment
from rigshift.assess.tools import default_tools
from rigshift.cli.errors import handle_errors
from rigshift.errors import InputError, Problem
from rigshift.fleet.demo import demo_fleet
from rigshift.fleet.store import load_fleet
from rigshift.measure.calibrate import estimator_for
from rigshift.suggest import did_you_mean


def load_criteria(path: Path) -> dict[str, Any]:
    """A criteria file (YAML or JSON): any ReadinessCriteria fields, checked when combined with flags."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(Problem(f"cannot read criteria: {error.strerror}", source=str(path))) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise InputError(
            Problem(
                "not valid YAML/JSON", source=str(path), location=f"line {mark.line + 1}" if mark else None
            )
        ) from None
    if not isinstance(data, dict):
        raise InputError(Problem("expected a mapping of criteria fields", source=str(path)))
    return data


def build_criteria(base: dict[str, Any], overrides: dict[str, Any], source: str | None) -> ReadinessCriteria:
    try:
        return ReadinessCriteria.model_validate(
            {**base, **{k: v for k, v in overrides.items() if v is not None}}
        )
    except ValidationError as error:
        fields = list(ReadinessCriteria.model_fields)
        problems = []
        for item in error.errors():
            loc = item["loc"]
            name = str(loc[0]) if loc else None
            problems.append(
                Problem(
                    item["msg"],
                    source=source,
                    location="$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc),
                    field=name,
                    suggestions=did_you_mean(name, fields)
                    if item["type"] == "extra_forbidden" and name
                    else (),
                )
            )
        raise InputError(problems) from None


# Short spellings people type for a class: "8b", "14B", "70b".
_CLASS_ALIASES = {"3B": ModelClass.UP_TO_3B, "8B": ModelClass.B7_9, "7B": ModelClass.B7_9,
                  "14B": ModelClass.B12_14, "12B": ModelClass.B12_14, "30B": ModelClass.B30_PLUS,
                  "32B": ModelClass.B30_PLUS, "70B": ModelClass.B30_PLUS}  # fmt: skip


def _headline(value: str | None) -> ModelClass | None:
    if value is None:
        return None
    names = [c.value for c in ModelClass]
    normal = value.strip().upper().replace("<=", "").replace("≤", "").replace("+", "")
    for c in ModelClass:
        if normal == c.value.upper().replace("<=", "").replace("+", ""):
            return c
    if normal in _CLASS_ALIASES:
        return _CLASS_ALIASES[normal]
    raise InputError(
        Problem(f"unknown model class {value!r}", field="headline", expected=", ".join(names),
                suggestions=did_you_mean(value, names))
    )  # fmt: skip


def _write_atomic(path: Path, text: str) -> None:
    """Temp file + rename: an interrupted write never leaves half a report over the old one."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise InputError(Problem(f"cannot write: {error.strerror}", source=str(path))) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def assess_command(
    fleet: Annotated[
        Path | None, typer.Argument(help="Fleet file (JSON or YAML) as `rigshift fleet import` writes it.")
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Assess the bundled demo fleet instead of FLEET.")
    ] = False,
    scale: Annotated[int, typer.Option("--scale", min=1, help="GPUs in the demo fleet.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the demo fleet.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the complete assessment as JSON.")] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report with charts here.")
    ] = None,
    no_measurements: Annotated[
        bool, typer.Option("--no-measurements", help="Ignore stored measurements: priors alone.")
    ] = False,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Measurements database (default: $RIGSHIFT_DB or ~/.local/share/rigshift/rigshift.db).",
        ),
    ] = None,
    details: Annotated[bool, typer.Option("--details", help="Add one row per GPU to the summary.")] = False,
    criteria_file: Annotated[
        Path | None,
        typer.Option("--criteria", help="YAML/JSON file of criteria fields (see docs/assessment.md)."),
    ] = None,
    min_tps: Annotated[
        float | None, typer.Option("--min-tps", help="Usable speed: tokens/s for one stream [20].")
    ] = None,
    min_context: Annotated[
        int | None, typer.Option("--min-context", help="Usable context, tokens [8192].")
    ] = None,
    min_quant: Annotated[
        str | None, typer.Option("--min-quant", help="Lowest usable quality [Q4_K_M].")
    ] = None,
    max_load: Annotated[
        float | None, typer.Option("--max-load-seconds", help="A slower model load is not usable [no limit].")
    ] = None,
    headline: Annotated[
        str | None, typer.Option("--headline", help="Class a GPU must serve to count as AI-ready [7-9B].")
    ] = None,
) -> None:
    """Which GPUs of the fleet can do AI work, what exactly, and what holds the rest back.

    Prints a one-screen summary (share AI-ready per model class with the exact criteria, counts
    per card model and per limiting reason, what whole rigs can do, the fixes that unlock the
    most); --json prints the complete assessment, --html writes a report with charts.
    """
    if demo == (fleet is not None):
        raise InputError(
            Problem(
                "give a FLEET file or --demo, not both and not neither", field="FLEET", expected="one of them"
            )
        )
    base = load_criteria(criteria_file) if criteria_file else {}
    overrides = {
        "min_decode_tps": min_tps,
        "min_context": min_context,
        "min_quant": min_quant,
        "max_load_seconds": max_load,
        "headline_class": _headline(headline),
    }
    criteria = build_criteria(base, overrides, str(criteria_file) if criteria_file else None)
    fleet_data = demo_fleet(seed=seed, scale=scale) if fleet is None else load_fleet(fleet)
    result = assess_fleet(fleet_data, criteria, default_tools(estimator_for(db, not no_measurements)))
    if html is not None:
        _write_atomic(html, render_html(result))
    if as_json:
        typer.echo(result.model_dump_json(indent=1))
        return
    console = Console()
    print_assessment(result, console, details=details)
    if html is not None:
        console.print(f"HTML report: {html}")


def load_assessment(path: Path) -> FleetAssessment:
    """Read back what `rigshift assess --json` wrote (for later stages run from files)."""
    try:
        return FleetAssessment.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except OSError as error:
        raise InputError(Problem(f"cannot read assessment: {error.strerror}", source=str(path))) from None
    except json.JSONDecodeError as error:
        raise InputError(
            Problem(f"not valid JSON: {error.msg}", source=str(path), location=f"line {error.lineno}")
        ) from None
    except ValidationError as error:
        first = error.errors()[0]
        loc = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise InputError(
            Problem(first["msg"], source=str(path), location=loc, expected="`rigshift assess --json` output")
        ) from None


def register(app: typer.Typer) -> None:
    app.command("assess")(handle_errors(assess_command))


__all__ = ["assess_command", "build_criteria", "load_assessment", "load_criteria", "register"]
