"""A measurement checked before it is stored (rows that arrive over HTTP, from agents, from `bench
import`): its names against the catalogs, its rate against the card's roofline
(estimate/plausibility.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.models import model_catalog
from rigshift.errors import InputError, Problem, RigshiftError
from rigshift.estimate.plausibility import BenchTest
from rigshift.estimate.plausibility import implausibility as rate_implausibility
from rigshift.estimate.quants import quant_recipe
from rigshift.estimate.runtimes import RUNTIMES
from rigshift.measure.types import HOST_CARD_KEY, Measurement
from rigshift.suggest import did_you_mean

MAX_PROBLEMS = 20  # reported per request: enough to fix a file, and a did-you-mean costs tens of ms


def validate_measurements(rows: Sequence[Measurement]) -> None:
    problems: list[Problem] = []
    seen: dict[tuple[str, str, str, str], list[Problem]] = {}  # rows repeat names: check each once
    for index, row in enumerate(rows):
        where = f"data[{index}]"
        names = (row.runtime, row.card_key, row.model_key, row.quant)
        if names not in seen:
            seen[names] = _name_problems(row)
        values = _value_problems(row)
        if not seen[names] and not values:
            values = _rate_problems(row)
        problems += [
            Problem(p.message, location=where, field=p.field, expected=p.expected, suggestions=p.suggestions)
            for p in [*seen[names], *values]
        ]
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise InputError(problems[:MAX_PROBLEMS])


def _name_problems(row: Measurement) -> list[Problem]:
    found: list[Problem] = []
    if row.runtime not in RUNTIMES:
        found.append(
            Problem(
                f"unknown runtime {row.runtime!r}",
                field="runtime",
                suggestions=did_you_mean(row.runtime, RUNTIMES),
            )
        )
    if row.card_key != HOST_CARD_KEY:
        try:
            gpu_catalog().get(row.card_key)
        except RigshiftError:
            keys = [HOST_CARD_KEY, *(s.key for s in gpu_catalog().all())]
            found.append(
                Problem(
                    f"unknown card {row.card_key!r}",
                    field="card_key",
                    suggestions=did_you_mean(row.card_key, keys),
                )
            )
    for name, check in (
        ("model_key", lambda: model_catalog().get(row.model_key)),
        ("quant", lambda: quant_recipe(row.quant)),
    ):
        try:
            check()
        except RigshiftError as error:
            found.append(Problem(str(error), field=name))
    return found


def _value_problems(row: Measurement) -> list[Problem]:
    found: list[Problem] = []
    if not (math.isfinite(row.tokens_per_s) and row.tokens_per_s > 0):
        found.append(Problem(f"tokens_per_s {row.tokens_per_s} is not a positive rate", field="tokens_per_s"))
    if row.n_prompt < 0 or row.n_gen < 0 or row.n_depth < 0 or not (row.n_prompt or row.n_gen):
        found.append(Problem("a test needs n_prompt or n_gen > 0 (and none negative)", field="n_prompt"))
    return found


def implausible(row: Measurement) -> str | None:
    """Why the row's rate cannot be right on its card (above the roofline), or None. The row's
    names must be known (`validate_measurements` checks them first)."""
    spec = gpu_catalog().all()[0] if row.card_key == HOST_CARD_KEY else gpu_catalog().get(row.card_key)
    test = BenchTest(
        model_catalog().get(row.model_key),
        spec,
        row.runtime,
        quant_recipe(row.quant).name,
        row.kind,
        row.n_prompt,
        row.n_gen,
        row.n_depth,
    )
    return rate_implausibility(test, row.tokens_per_s)


def _rate_problems(row: Measurement) -> list[Problem]:
    why = implausible(row)
    return [Problem(why, field="tokens_per_s", expected="a rate below the card's roofline")] if why else []
