"""A demand-response event as the energy loop sees it (the store lives in `rigshift.server`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rigshift.errors import InputError, Problem


@dataclass(frozen=True)
class EnergyEvent:
    id: str
    site: str
    start_at: float
    end_at: float
    shed_kw: float | None
    target_kw: float | None
    created_at: float
    cancelled_at: float | None = None
    baseline_kw: float | None = None
    max_kw_shed: float = 0.0
    kwh_avoided: float = 0.0
    under_target_after_s: float | None = None
    paused: dict[str, Any] = field(default_factory=dict)

    def active(self, now: float) -> bool:
        return self.cancelled_at is None and self.start_at <= now < self.end_at

    def limit_kw(self, baseline_kw: float) -> float:
        """The draw the site must stay at or under while the event runs."""
        if self.target_kw is not None:
            return self.target_kw
        return max(
            0.0, (self.baseline_kw if self.baseline_kw is not None else baseline_kw) - (self.shed_kw or 0.0)
        )

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def validate_event(
    site: str, start: float, end: float, shed_kw: float | None, target_kw: float | None
) -> None:
    problems = []
    if not site:
        problems.append(Problem("a site is required", field="site"))
    if (shed_kw is None) == (target_kw is None):
        problems.append(
            Problem("give shed_kw or target_kw (one of them)", field="shed_kw", expected="a number of kW")
        )
    if shed_kw is not None and shed_kw <= 0:
        problems.append(Problem(f"shed_kw must be > 0, got {shed_kw}", field="shed_kw"))
    if target_kw is not None and target_kw < 0:
        problems.append(Problem(f"target_kw must be >= 0, got {target_kw}", field="target_kw"))
    if end <= start:
        problems.append(Problem("end must be after start", field="end"))
    if problems:
        raise InputError(problems)


class EventSource(Protocol):
    """What the energy loop needs from the event store."""

    def current(self, now: float) -> Sequence[EnergyEvent]: ...

    def record(self, event: EnergyEvent) -> None: ...
