"""Price files as regular UTC series: ERCOT's native files, the shared plain extracts, tariffs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from rigshift.econ.prices.power_series import parse_price_csv
from rigshift.energy.prices import read_price_series
from rigshift.errors import InputError

DATA = Path(__file__).parent / "data"


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp())


@pytest.mark.parametrize("day", ["spring_forward", "fall_back"])
def test_native_annual_file_matches_the_plain_extract_across_dst(day: str) -> None:
    native = read_price_series(DATA / f"ercot_np4-180-er_2024_{day}.csv", settlement_point="HB_NORTH")
    plain = read_price_series(DATA / f"ercot_hb_north_dam_2024_{day}.csv")
    assert native.kind == "day-ahead" and native.step_s == 3600
    assert native.starts.tolist() == plain.starts.tolist()
    assert np.allclose(native.usd_per_kwh, plain.usd_per_kwh)


def test_fall_back_repeated_hour_is_two_instants_an_hour_apart() -> None:
    series = read_price_series(DATA / "ercot_np4-180-er_2024_fall_back.csv", settlement_point="HB_WEST")
    # HE02 (flag N) starts 01:00 CDT = 06:00Z; HE02 (flag Y) starts 01:00 CST = 07:00Z.
    assert series.price_at(utc("2024-11-03T06:00:00+00:00")) == pytest.approx(8.15 / 1000)
    assert series.price_at(utc("2024-11-03T07:00:00+00:00")) == pytest.approx(12.1 / 1000)
    assert len(series) == 5


def test_spring_forward_skips_the_missing_hour() -> None:
    series = read_price_series(DATA / "ercot_np4-180-er_2024_spring_forward.csv", settlement_point="HB_NORTH")
    assert len(series) == 3  # HE01, HE02, HE04 (HE03 does not exist)
    assert series.start == utc("2024-03-10T00:00:00-06:00")
    assert series.end == utc("2024-03-10T04:00:00-05:00")


def test_several_points_need_a_choice_and_a_typo_gets_a_suggestion() -> None:
    with pytest.raises(InputError, match="2 settlement points"):
        read_price_series(DATA / "ercot_np4-180-er_2024_fall_back.csv")
    with pytest.raises(InputError, match="HB_NORTH"):
        read_price_series(DATA / "ercot_np4-180-er_2024_fall_back.csv", settlement_point="HB_NROTH")


def test_real_time_fifteen_minutes_and_resampling() -> None:
    rt = read_price_series(DATA / "ercot_hb_north_rt15_2024_excerpt.csv")
    assert rt.step_s == 900 and len(rt) == 24
    hourly = rt.resample(3600)
    assert len(hourly) == 6
    assert hourly.usd_per_kwh[0] == pytest.approx(rt.usd_per_kwh[:4].mean())
    back = hourly.resample(900)
    assert back.starts.tolist() == rt.starts.tolist()
    assert back.usd_per_kwh[3] == hourly.usd_per_kwh[0]


def test_uri_prices_are_read_in_dollars_per_kwh() -> None:
    uri = read_price_series(DATA / "ercot_hb_north_dam_2021_uri_excerpt.csv")
    assert uri.usd_per_kwh.max() == pytest.approx(7.87389)  # $7,873.89/MWh


def test_ercot_np4_190_and_np6_905_as_published() -> None:
    dam = read_price_series(
        Path("examples/prices/ercot_np4-190-cd_synthetic.csv"), settlement_point="HB_NORTH"
    )
    rtm = read_price_series(Path("examples/prices/ercot_np6-905-cd_synthetic.csv"))
    assert dam.step_s == 3600 and rtm.step_s == 900
    assert rtm.price_at(rtm.start) == pytest.approx(-6.5 / 1000)


def test_gaps_and_bad_rows_are_errors_with_the_line() -> None:
    with pytest.raises(InputError, match="not regular"):
        parse_price_csv(
            "timestamp,price\n2024-01-01T00:00Z,0.1\n2024-01-01T01:00Z,0.1\n2024-01-01T03:00Z,0.1\n", "x.csv"
        )
    with pytest.raises(InputError, match=r"line 3.*not a number"):
        parse_price_csv("timestamp,price\n2024-01-01T00:00Z,0.1\n2024-01-01T01:00Z,abc\n", "x.csv")
    with pytest.raises(InputError, match="unrecognised price series columns"):
        parse_price_csv("when,cost\n1,2\n", "x.csv")


def test_time_of_use_tariff(tmp_path: Path) -> None:
    tariff = tmp_path / "tou.yaml"
    tariff.write_text(
        "tariff:\n  usd_per_kwh: 0.05\n  timezone: America/Chicago\n"
        "  start: 2024-07-01T00:00:00-05:00\n  end: 2024-07-03T00:00:00-05:00\n"
        "  periods:\n    - {name: peak, usd_per_kwh: 0.20, hours: [14, 19], weekdays: [0, 1, 2, 3, 4]}\n"
    )
    series = read_price_series(tariff)
    assert len(series) == 48 and series.kind == "tariff"
    assert series.price_at(utc("2024-07-01T15:30:00-05:00")) == 0.20  # a Monday afternoon
    assert series.price_at(utc("2024-07-01T09:00:00-05:00")) == 0.05


def test_tariff_without_span_says_so(tmp_path: Path) -> None:
    tariff = tmp_path / "flat.yaml"
    tariff.write_text("usd_per_kwh: 0.05\n")
    with pytest.raises(InputError, match="span"):
        read_price_series(tariff)
    assert len(read_price_series(tariff, span=(0, 86400))) == 24
