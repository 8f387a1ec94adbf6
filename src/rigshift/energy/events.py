"""A demand-response event as the energy loop sees it (the store lives in `rigshift.server`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rigshift.errors import InputError, Problem

# An event's window: real dates (an end at 1e308 broke the console's Energy page) and a length a
# demand-response program asks for (ERCOT's ERS and 4CP windows are hours; 31 days is generous).
EARLIEST_AT = 946_684_800.0  # 2000-01-01T00:00:00Z
LATEST_AT = 4_102_444_800.0  # 2100-01-01T00:00:00Z
MAX_EVENT_S = 31 * 86400


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
    for name, value in (("start", start), ("end", end)):
        if not (math.isfinite(value) and EARLIEST_AT <= value <= LATEST_AT):
            problems.append(
                Problem(
                    f"{name} {value:g} is not a date rigshift can schedule",
                    field=name,
                    expected="unix seconds or ISO 8601 between 2000-01-01 and 2100-01-01",
                )
            )
    if end <= start:
        problems.append(Problem("end must be after start", field="end"))
    elif end - start > MAX_EVENT_S:
        problems.append(
            Problem(
                f"the event lasts {(end - start) / 86400:,.1f} days",
                field="end",
                expected=f"at most {MAX_EVENT_S // 86400} days (demand response is hours, not months)",
            )
        )
    if problems:
        raise InputError(problems)


class EventSource(Protocol):
    """What the energy loop needs from the event store."""

    def current(self, now: float) -> Sequence[EnergyEvent]: ...

    def record(self, event: EnergyEvent) -> None: ...
