"""`rigshift assess FLEET | --demo`: which GPUs can do AI work, what exactly, and what holds the rest back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from rigshift.assess import FleetAssessment, ModelClass, ReadinessCriteria
from rigshift.assess.render_html import render_html
from rigshift.assess.render_terminal import print_assessment
from rigshift.cli.errors import handle_errors
from rigshift.cli.estimate import parse_tokens_option
from rigshift.cli.options import (
    DbOption,
    DecisionDemandOption,
    DemoFleetOption,
    FleetArgument,
    MaxTtftOption,
    NoMeasurementsOption,
    PricesOption,
    fleet_or_demo,
)
from rigshift.decision import DEFAULT_MAX_TTFT_S
from rigshift.errors import InputError, Problem
from rigshift.files import write_atomic
from rigshift.readers import LIMITS, load_json, load_yaml, problems_from_validation, read_text
from rigshift.suggest import did_you_mean
from rigshift.tables import output_console


def load_criteria(path: Path) -> dict[str, Any]:
    """A criteria file (YAML or JSON): any ReadinessCriteria fields, checked when combined with flags."""
    expected = "a criteria file (YAML or JSON)"
    data = load_yaml(read_text(path, expected), str(path), expected)
    if not isinstance(data, dict):
        raise InputError(Problem("expected a mapping of criteria fields", source=str(path)))
    return data


def build_criteria(base: dict[str, Any], overrides: dict[str, Any], source: str | None) -> ReadinessCriteria:
    try:
        return ReadinessCriteria.model_validate(
            {**base, **{k: v for k, v in overrides.items() if v is not None}}
        )
    except ValidationError as error:
        raise InputError(
            problems_from_validation(error, source, known_fields=ReadinessCriteria.model_fields)
        ) from None


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


def assess_command(
    fleet: FleetArgument = None,
    demo: DemoFleetOption = False,
    scale: Annotated[int, typer.Option("--scale", min=1, help="GPUs in the demo fleet.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the demo fleet.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the complete assessment as JSON.")] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report with charts here.")
    ] = None,
    no_measurements: NoMeasurementsOption = False,
    db: DbOption = None,
    details: Annotated[bool, typer.Option("--details", help="Add one row per GPU to the summary.")] = False,
    criteria_file: Annotated[
        Path | None,
        typer.Option("--criteria", help="YAML/JSON file of criteria fields (see docs/assessment.md)."),
    ] = None,
    min_tps: Annotated[
        float | None, typer.Option("--min-tps", help="Usable speed: tokens/s for one stream [20].")
    ] = None,
    min_context: Annotated[
        str | None, typer.Option("--min-context", help="Usable context, tokens: 8192, 8k [8k].")
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
    prices: PricesOption = None,
    demand: DecisionDemandOption = None,
    max_ttft: MaxTtftOption = DEFAULT_MAX_TTFT_S,
) -> None:
    """Which GPUs of the fleet can do AI work, what exactly, and what holds the rest back.

    Leads with the farm decision (docs/decision.md): capable → hostable now → viable → worth
    converting → placed, beside the published 5-15%, the step that removes the most cards and what
    would move them. Then a one-screen summary (share AI-ready per model class with the exact
    criteria, counts per card model and per limiting reason, what whole rigs can do, the fixes that
    unlock the most, priced); --json prints the complete assessment under the top-level `decision`,
    --html writes a report with charts.
    """
    base = load_criteria(criteria_file) if criteria_file else {}
    overrides = {
        "min_decode_tps": min_tps,
        "min_context": None if min_context is None else parse_tokens_option(min_context, "--min-context"),
        "min_quant": min_quant,
        "max_load_seconds": max_load,
        "headline_class": _headline(headline),
    }
    criteria = build_criteria(base, overrides, str(criteria_file) if criteria_file else None)
    fleet_data = fleet_or_demo(fleet, demo, seed=seed, scale=scale)
    # Imported here: the decision runs the economics (HiGHS), which `assess --help` must not load.
    from rigshift.decision.render import print_decision, with_decision_html
    from rigshift.decision.service import decision_for, with_decision

    made, _ = decision_for(
        fleet_data, prices=prices, demand=demand, db=db, use_measurements=not no_measurements,
        criteria=criteria, max_ttft_s=max_ttft,
    )  # fmt: skip
    result = made.assessment
    if html is not None:
        write_atomic(html, with_decision_html(render_html(result), made.summary))
    if as_json:
        typer.echo(with_decision(result.model_dump_json(indent=1), made.summary))
        return
    console = output_console()
    print_decision(made.summary, console)
    print_assessment(result, console, details=details)
    if html is not None:
        console.print(f"HTML report: {html}")


def load_assessment(path: Path) -> FleetAssessment:
    """Read back what `rigshift assess --json` wrote (for later stages run from files)."""
    expected = "`rigshift assess --json` output"
    data = load_json(read_text(path, expected, max_bytes=LIMITS.fleet_file_bytes), str(path), expected)
    try:
        if isinstance(data, dict):
            data.pop("decision", None)  # what `assess --json` adds beside the assessment
        return FleetAssessment.model_validate(data)
    except ValidationError as error:
        raise InputError(
            problems_from_validation(error, str(path), expected=expected, first_only=True)
        ) from None


def register(app: typer.Typer) -> None:
    app.command("assess")(handle_errors(assess_command))


__all__ = ["assess_command", "build_criteria", "load_assessment", "load_criteria", "register"]
