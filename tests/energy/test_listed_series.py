"""Listed price series (the bundled ERCOT year's compact form) and replaying a past year at run time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from rigshift.econ.prices.power_series import PriceSeries, parse_price_csv
from rigshift.energy.prices import DEMO_PRICES, listed_series_yaml, read_price_series
from rigshift.energy.wiring import build_energy_loop
from rigshift.errors import InputError
from rigshift.fleet.importer import read_source
from rigshift.fleet.store import dump_fleet
from rigshift.server.db import open_engine
from rigshift.server.stores.energy_events import EnergyEventStore

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]


def test_the_bundled_year_is_every_hour_of_2024_at_hb_north() -> None:
    year = read_price_series(DEMO_PRICES)
    assert (year.kind, year.settlement_point, year.step_s, len(year)) == ("day-ahead", "HB_NORTH", 3600, 8784)
    assert datetime.fromtimestamp(year.start, UTC) == datetime(2024, 1, 1, 6, tzinfo=UTC)  # 00:00 CST
    assert datetime.fromtimestamp(year.end, UTC) == datetime(2025, 1, 1, 6, tzinfo=UTC)
    prices = year.usd_per_kwh * 1000
    assert (prices > 100).sum() == 173 and (prices < 0).sum() == 6  # as ERCOT's year has them
    assert prices.max() == pytest.approx(2224.74)
    assert "NP4-180-ER" in year.source
    # the same hours as the native excerpts of both DST days, read by the ERCOT reader
    for name in ("ercot_np4-180-er_2024_spring_forward.csv", "ercot_np4-180-er_2024_fall_back.csv"):
        native = parse_price_csv((DATA / name).read_text(), name, "auto", "HB_NORTH")
        i = year.index_at(native.start)
        assert i is not None
        assert np.allclose(year.usd_per_kwh[i : i + len(native)], native.usd_per_kwh)


def test_a_series_written_reads_back_the_same(tmp_path: Path) -> None:
    starts = 1_700_000_100 // 900 * 900 + 900 * np.arange(10, dtype=np.int64)
    series = PriceSeries(starts, np.linspace(-0.004, 5.0, 10), 900, "x", "real-time", "HB_WEST")
    path = tmp_path / "s.yaml"
    path.write_text(listed_series_yaml(series, "https://example.org/prices", "a test", per_line=4))
    back = read_price_series(path)
    assert (back.starts == series.starts).all() and np.allclose(back.usd_per_kwh, series.usd_per_kwh)
    assert (back.kind, back.settlement_point, back.step_s) == ("real-time", "HB_WEST", 900)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("start: 2024-01-01T00:00:00\n  usd_per_mwh: [1, 2]", "UTC offset"),
        ("start: 2024-01-01T00:00:00Z\n  usd_per_mwh: [1, .nan]", "usd_per_mwh"),
        ("start: 2024-01-01T00:00:00Z\n  usd_per_mwh: [1, 2e9]", "usd_per_mwh"),
        ("start: 2024-01-01T00:00:00Z\n  usd_per_mwh: []", "usd_per_mwh"),
        ("start: 2024-01-01T00:00:00Z\n  usd_per_mwh: [1]\n  extra: 1", "extra"),
    ],
)
def test_a_bad_listed_series_is_a_located_error(tmp_path: Path, body: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"series:\n  source: x\n  market: day-ahead\n  step_minutes: 60\n  {body}\n")
    with pytest.raises(InputError, match=expected) as error:
        read_price_series(path)
    assert "bad.yaml" in str(error.value)


def test_a_settlement_point_the_file_does_not_have_is_refused() -> None:
    with pytest.raises(InputError, match="HB_NORTH"):
        read_price_series(DEMO_PRICES, settlement_point="HB_WEST")


def test_the_example_config_replays_2024_as_today(tmp_path: Path) -> None:
    """examples/energy.yaml prices "now" at the same hour of 2024; without replay there is no price."""
    now = datetime(2026, 12, 8, 1, 30, tzinfo=UTC).timestamp()
    store = EnergyEventStore(open_engine(str(tmp_path / "db.sqlite")))
    loop, _ = build_energy_loop(REPO / "examples" / "energy.yaml", store, clock=lambda: now)
    loop.tick()
    year = read_price_series(DEMO_PRICES)
    offset = (now - year.start) % (year.end - year.start)
    expected = year.usd_per_kwh[int(offset // 3600)] * 1000
    assert loop.snapshot()["sites"][0]["price_usd_mwh"] == pytest.approx(expected, abs=1e-3)
    config = (REPO / "examples" / "energy.yaml").read_text().replace("replay: true", "replay: false")
    (tmp_path / "fleet").symlink_to(REPO / "examples" / "fleet")
    (tmp_path / "prices").symlink_to(REPO / "examples" / "prices")
    (tmp_path / "energy.yaml").write_text(config)
    loop, _ = build_energy_loop(tmp_path / "energy.yaml", store, clock=lambda: now)
    loop.tick()
    assert loop.snapshot()["sites"][0]["price_missing"] is True


def test_the_example_fleet_file_is_what_fleet_import_writes_for_its_inventory() -> None:
    """examples/energy.yaml's fleet is generated: regenerate it when the fleet file format changes
    (`rigshift fleet import examples/fleet/farm_2sites_3rigs_mixed.yaml -o <it>`)."""
    parsed = read_source(REPO / "examples/fleet/farm_2sites_3rigs_mixed.yaml")
    written = (REPO / "examples/fleet/farm_2sites_3rigs_mixed.fleet.yaml").read_text()
    assert dump_fleet(parsed.fleet, yaml_format=True) == written
