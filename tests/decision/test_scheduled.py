"""The decision's scheduled step: the converted cards' hours over the decision's price series."""

from __future__ import annotations

from pathlib import Path

import pytest

from rigshift.decision.schedule import NO_SERIES, converted_by_class, scheduled
from rigshift.decision.service import decision_for
from rigshift.econ.formulas import DAYS_PER_MONTH
from rigshift.fleet.demo import demo_fleet

ROOT = Path(__file__).resolve().parents[2]
ERCOT = ROOT / "examples" / "prices" / "ercot_dam.yaml"


def test_without_a_price_series_the_decision_says_so() -> None:
    made, _ = decision_for(demo_fleet())
    step = made.summary.scheduled
    assert step is not None and step.price_series is None and step.gpu_hours == 0
    assert step.note == NO_SERIES and step.converted_gpus == made.summary.funnel.converted


def test_hours_on_are_the_series_hours_where_each_converted_card_pays_its_power() -> None:
    made, _ = decision_for(demo_fleet(), prices=ERCOT)
    step = made.summary.scheduled
    series = made.economics.inputs.power.series
    assert step is not None and step.price_series is not None and series.source in step.price_series
    assert step.converted_gpus == made.summary.funnel.converted > 0
    assert 0 < step.hours_on <= step.hours == pytest.approx(series.hours, abs=1e-3)
    # each converted class runs in the curve's hours at or below its break-even (staff excluded)
    converted = converted_by_class(made.gpus)
    expected = 0.0
    for a in made.economics.plan.after:
        if a.use == "infer" and not a.bought:
            even = a.monthly_revenue_usd / (a.power_kw * 24 * DAYS_PER_MONTH)
            share = sum(s for p, s in series.duration_curve if p <= even)
            expected += converted.get(a.card_id, 0) * series.hours * share
    assert step.gpu_hours == pytest.approx(expected, rel=1e-6)


def test_a_dearer_series_schedules_fewer_hours() -> None:
    made, _ = decision_for(demo_fleet(), prices=ERCOT)
    economics = made.economics
    series = economics.inputs.power.series
    converted = converted_by_class(made.gpus)
    base = scheduled(economics, converted)
    dear = series.model_copy(update={"duration_curve": tuple((p * 100, s) for p, s in series.duration_curve)})
    power = economics.inputs.power.model_copy(update={"series": dear})
    inputs = economics.inputs.model_copy(update={"power": power})
    dearer = scheduled(economics.model_copy(update={"inputs": inputs}), converted)
    assert dearer.gpu_hours < base.gpu_hours
