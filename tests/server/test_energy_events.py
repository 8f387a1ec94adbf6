"""The demand-response event store on the test database (SQLite, or PostgreSQL when configured)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rigshift.errors import InputError
from rigshift.server.stores.energy_events import EnergyEventStore


def test_events_round_trip(engine) -> None:
    store = EnergyEventStore(engine)
    first = store.create("tx", 100.0, 200.0, shed_kw=50.0, target_kw=None, now=90.0)
    later = store.create("tx", 300.0, 400.0, shed_kw=None, target_kw=10.0, now=90.0)
    store.create("no", 100.0, 200.0, shed_kw=5.0, target_kw=None, now=90.0)
    assert [e.id for e in store.recent(site="tx")] == [later.id, first.id]
    assert [e.id for e in store.current(150.0) if e.site == "tx"] == [first.id, later.id]
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
    cancelled = store.cancel(later.id, now=120.0)
    assert cancelled.cancelled_at == 120.0 and later.id not in [e.id for e in store.current(350.0)]
    with pytest.raises(InputError):
        store.create("tx", 5.0, 1.0, shed_kw=1.0, target_kw=None, now=0.0)
    with pytest.raises(InputError):
        store.get("ev-none")
