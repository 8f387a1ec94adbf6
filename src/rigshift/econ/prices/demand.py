"""`rigshift econ --demand FILE`: how much there is to sell, from whichever file the operator has.

Three formats, told apart by their shape:

- an econ demand file (YAML/JSON mapping): `requests_per_day` and/or `tokens_per_day` per price
  class, optional `load_profile` (24 hourly loads), `as_of`, `source` (the `demand:` section of a
  prices file, docs/economics.md);
- a plan's demand file (`deployments:`, rigshift.plan.demand): each deployment with a
  `throughput` target becomes requests a day of the price class nearest its model;
- the server's metered usage: `rigshift usage --by model --json` output (a JSON list of rows with
  `group`, `requests`, `prompt_tokens`, `completion_tokens`) or the same columns as CSV, over
  `days` days.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rigshift.econ.inputs import ClassDemand, DemandInputs, ModelClassPrice
from rigshift.econ.prices.bundle import DemandSection, demand_from_section
from rigshift.errors import InputError, Problem, RigshiftError
from rigshift.plan.demand import parse_demand
from rigshift.readers import load_json, load_yaml, problems_from_validation, read_text
from rigshift.suggest import normalise

ParamsOf = Callable[[str], float | None]  # model name -> billions of parameters (None: unknown)


def _default_params_of(name: str) -> float | None:
    from rigshift.catalog.models import load_model

    try:
        model = load_model(name)
    except (RigshiftError, OSError, ValueError):
        return None
    # Price classes are chat/completion models: an embedding model's volume buys none of them.
    return None if model.kind == "embedding" else model.params_b


def class_for_model(
    model: str, classes: Sequence[ModelClassPrice], params_of: ParamsOf
) -> ModelClassPrice | None:
    """The price class a served model counts towards: by name, else the nearest in size."""
    key = normalise(model)
    for price in classes:
        if key in (normalise(price.name), normalise(price.model)):
            return price
    size = params_of(model)
    if size is None or size <= 0:
        return None
    sized = [(p, params_of(p.model)) for p in classes]
    known = [(p, s) for p, s in sized if s]
    if not known:
        return None
    return min(known, key=lambda ps: abs(math.log(size / (ps[1] or 1.0))))[0]


def read_demand(
    path: Path,
    classes: Sequence[ModelClassPrice],
    tokens_per_request: int,
    days: float = 1.0,
    params_of: ParamsOf | None = None,
) -> DemandInputs:
    params_of = params_of or _default_params_of
    source = str(path)
    expected = "a demand file (docs/economics.md)"
    text = read_text(path, expected)
    if path.suffix.lower() == ".csv":
        try:
            rows = list(csv.DictReader(io.StringIO(text)))
        except csv.Error as error:  # a NUL byte, a field over the csv module's limit
            raise InputError(Problem(f"not valid CSV: {error}", source=source)) from None
        return _usage(rows, source, classes, days, params_of)
    data = (
        load_json(text, source, expected)
        if path.suffix.lower() == ".json"
        else load_yaml(text, source, expected)
    )
    if isinstance(data, list):
        return _usage(data, source, classes, days, params_of)
    if isinstance(data, dict) and "deployments" in data:
        return _plan_demand(text, source, classes, params_of)
    if not isinstance(data, dict):
        raise InputError(
            Problem(
                "a demand file is a mapping (requests_per_day / tokens_per_day per price class), a plan's "
                "demand file, or `rigshift usage --by model --json` output",
                source=source,
                location="$",
            )
        )
    try:
        section = DemandSection.model_validate(data)
    except ValidationError as error:
        raise InputError(
            problems_from_validation(
                error, source, expected="requests_per_day, tokens_per_day, load_profile, as_of, source"
            )
        ) from None
    return demand_from_section(
        section,
        tokens_per_request,
        source + (f" ({section.source})" if section.source else ""),
        section.as_of,
    )


def _add(out: dict[str, float], name: str, requests: float) -> None:
    out[name] = out.get(name, 0.0) + requests


def _usage(
    rows: list[Any], source: str, classes: Sequence[ModelClassPrice], days: float, params_of: ParamsOf
) -> DemandInputs:
    if days <= 0:
        raise InputError(Problem(f"the usage export must cover > 0 days, got {days}", field="--usage-days"))
    requests: dict[str, float] = {}
    notes: list[str] = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or "group" not in row or "requests" not in row:
            raise InputError(
                Problem(
                    "a usage row needs `group` (the model) and `requests`",
                    source=source,
                    location=f"row {i + 1}",
                    expected="`rigshift usage --by model --json` output",
                )
            )
        try:
            count = float(row["requests"])
        except (TypeError, ValueError):
            raise InputError(
                Problem(
                    f"requests: not a number: {row['requests']!r}", source=source, location=f"row {i + 1}"
                )
            ) from None
        found = class_for_model(str(row["group"]), classes, params_of)
        if found is None:
            notes.append(f"usage of {row['group']!r} left out: no price class for that model")
            continue
        _add(requests, found.name, count / days)
    return DemandInputs(
        classes=tuple(ClassDemand(name=n, requests_per_day=r) for n, r in requests.items()),
        source=f"{source} (metered usage over {days:g} day{'s' if days != 1 else ''})",
        notes=tuple(notes),
    )


def _plan_demand(
    text: str, source: str, classes: Sequence[ModelClassPrice], params_of: ParamsOf
) -> DemandInputs:
    demand = parse_demand(text, source)
    requests: dict[str, float] = {}
    notes: list[str] = []
    for d in demand.deployments:
        found = class_for_model(d.model, classes, params_of)
        if found is None:
            notes.append(
                f"deployment {d.name!r} left out: no price class for model {d.model!r} (unknown or an embedding model)"
            )
            continue
        if d.throughput is None:
            notes.append(f"deployment {d.name!r} asks for replicas, not a volume: no demand counted")
            continue
        t = d.throughput
        per_s = (
            t.requests_per_s if t.requests_per_s is not None else (t.tokens_per_s or 0.0) / t.output_tokens
        )
        _add(requests, found.name, per_s * 86_400)
    return DemandInputs(
        classes=tuple(ClassDemand(name=n, requests_per_day=r) for n, r in requests.items()),
        source=f"{source} (a plan's demand: throughput targets held all day)",
        notes=tuple(notes),
    )
