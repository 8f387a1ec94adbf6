"""The fleet file's `measurements:` section checked against the catalogs, after its types are.

pydantic has already checked each entry's fields and types (fleet/model.py, `FleetMeasurement`);
here the names: a catalog GPU key (or `host-cpu` for the CPU runtime), a runtime, a catalog model
and a quant the estimator knows, and a test that is prompt processing or generation. Every problem
is returned at once, located ("line 12, $.measurements[0].model_key") with a did-you-mean, so a
hand-edited section is refused with something to act on rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rigshift.errors import InputError, Problem
from rigshift.fleet.model import Fleet, FleetMeasurement

HOST_CARD_KEY = "host-cpu"  # = rigshift.estimate.calibration.HOST_CARD_KEY (no estimator import here)


def measurement_problems(
    fleet: Fleet, source: str, locate: Callable[[tuple[Any, ...]], str]
) -> list[Problem]:
    if not fleet.measurements:
        return []
    from rigshift.catalog.gpus import gpu_catalog
    from rigshift.catalog.models import model_catalog
    from rigshift.estimate.quants import quant_recipe
    from rigshift.estimate.runtimes import RUNTIMES
    from rigshift.suggest import unknown_choice

    problems: list[Problem] = []

    def located(loc: tuple[Any, ...], problem: Problem, field: str) -> Problem:
        return replace(problem, source=source, location=locate(loc), field=field)

    def check(m: FleetMeasurement, field: str) -> None:
        if field == "runtime" and m.runtime not in RUNTIMES:
            raise unknown_choice("runtime", m.runtime, RUNTIMES)
        if field == "card_key" and m.card_key != HOST_CARD_KEY:
            gpu_catalog().get(m.card_key)
        if field == "model_key":
            model_catalog().get(m.model_key)
        if field == "quant":
            quant_recipe(m.quant)

    for i, m in enumerate(fleet.measurements):
        at = ("measurements", i)
        for field in ("card_key", "runtime", "model_key", "quant"):
            try:
                check(m, field)
            except InputError as error:
                problems += [located((*at, field), p, field) for p in error.problems]
        if not (m.n_prompt or m.n_gen):
            problems.append(
                Problem(
                    "a test of no tokens",
                    source=source,
                    location=locate((*at, "n_prompt")),
                    field="n_prompt",
                    expected="n_prompt (ppN) or n_gen (tgN) above 0",
                )
            )
    return problems
