"""The demand-response event store on the test database (SQLite, or PostgreSQL when configured)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rigshift.errors import InputError
from rigshift.server.stores.energy_events import EnergyEventStore

T0 = 1_720_000_000.0  # July 2024: events are real dates now (see the test at the end)


def test_events_round_trip(engine) -> None:
    store = EnergyEventStore(engine)
    first = store.create("tx", T0 + 100, T0 + 200, shed_kw=50.0, target_kw=None, now=T0 + 90)
    later = store.create("tx", T0 + 300, T0 + 400, shed_kw=None, target_kw=10.0, now=T0 + 90)
    store.create("no", T0 + 100, T0 + 200, shed_kw=5.0, target_kw=None, now=T0 + 90)
    assert [e.id for e in store.recent(site="tx")] == [later.id, first.id]
    assert [e.id for e in store.current(T0 + 150) if e.site == "tx"] == [first.id, later.id]
    store.record(
        replace(
            first,
            baseline_kw=80.0,
            max_kw_shed=52.5,
            kwh_avoided=1.25,
            under_target_after_s=4.0,
            paused={"batch_cards": 3},
        )
    )
    stored = store.get(first.id)
    assert (stored.baseline_kw, stored.max_kw_shed, stored.kwh_avoided, stored.paused) == (
        80.0,
        52.5,
        1.25,
        {"batch_cards": 3},
    )
    assert stored.limit_kw(999.0) == 30.0  # shed from the recorded baseline, not the latest draw
    cancelled = store.cancel(later.id, now=T0 + 120)
    assert cancelled.cancelled_at == T0 + 120 and later.id not in [e.id for e in store.current(T0 + 350)]
    with pytest.raises(InputError):
        store.create("tx", T0 + 5, T0 + 1, shed_kw=1.0, target_kw=None, now=T0)
    with pytest.raises(InputError):
        store.get("ev-none")


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (T0, 1e308, "end"),  # regression: an event ending at 1e308 broke the console's Energy page
        (-1e12, T0, "start"),
        (float("nan"), T0, "start"),
        (T0, T0 + 400 * 86400, "end"),  # a year-long "demand-response event"
    ],
)
def test_an_event_outside_real_dates_or_too_long_is_refused_naming_the_field(
    engine, start, end, field
) -> None:
    store = EnergyEventStore(engine)
    with pytest.raises(InputError) as refused:
        store.create("tx", start, end, shed_kw=1.0, target_kw=None, now=T0)
    assert field in [p.field for p in refused.value.problems]
    assert store.recent() == []
