"""Price-file adapters: ERCOT and plain series, WhatToMine and minerstat coins, the prices file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rigshift.econ.prices import load_inputs, read_coins, read_power_series
from rigshift.errors import InputError

from .fakes import resolve

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prices"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_ercot_day_ahead_mean_of_one_hub(tmp_path):
    path = write(
        tmp_path,
        "dam.csv",
        "DeliveryDate,HourEnding,SettlementPoint,SettlementPointPrice,DSTFlag\n"
        "07/01/2026,01:00,HB_NORTH,20.00,N\n07/01/2026,01:00,HB_WEST,90.00,N\n"
        "07/01/2026,02:00,HB_NORTH,40.00,N\n07/01/2026,02:00,HB_WEST,90.00,N\n",
    )
    summary = read_power_series(path, settlement_point="HB_NORTH")
    assert summary.points == 2 and summary.hours == 2.0
    assert summary.mean_usd_kwh == pytest.approx(0.030)  # ($20 + $40)/2 per MWh
    assert summary.max_usd_kwh == pytest.approx(0.040)
    assert summary.settlement_point == "HB_NORTH"


def test_ercot_real_time_intervals_are_quarter_hours(tmp_path):
    rows = [
        "DeliveryDate,DeliveryHour,DeliveryInterval,SettlementPointName,SettlementPointType,SettlementPointPrice,DSTFlag"
    ]
    rows += [
        f"07/01/2026,1,{i},HB_NORTH,HU,{p},N" for i, p in zip(range(1, 5), (-10, 10, 30, 50), strict=True)
    ]
    summary = read_power_series(write(tmp_path, "rtm.csv", "\n".join(rows) + "\n"))
    assert summary.hours == 1.0
    assert summary.mean_usd_kwh == pytest.approx(0.020)
    assert summary.min_usd_kwh == pytest.approx(-0.010)  # ERCOT has negative prices


def test_plain_series_and_the_shipped_samples_parse():
    plain = read_power_series(EXAMPLES / "plain_hourly.csv")
    assert plain.points == 24 and plain.hours == 24.0
    assert plain.mean_usd_kwh == pytest.approx((20 * 0.03 + 4 * 0.08) / 24)
    dam = read_power_series(EXAMPLES / "ercot_np4-190-cd_synthetic.csv", settlement_point="HB_WEST")
    assert dam.points == 48
    rtm = read_power_series(EXAMPLES / "ercot_np6-905-cd_synthetic.csv")
    assert rtm.points == 96 and rtm.hours == 24.0


def test_series_errors_name_the_file_line_and_field(tmp_path):
    two_hubs = EXAMPLES / "ercot_np4-190-cd_synthetic.csv"
    with pytest.raises(InputError, match=r"settlement_point.*2 settlement points"):
        read_power_series(two_hubs)
    with pytest.raises(InputError, match="did you mean: HB_NORTH"):
        read_power_series(two_hubs, settlement_point="HB_NROTH")
    bad = write(tmp_path, "bad.csv", "timestamp,price\n2026-07-01T00:00,0.03\n2026-07-01T01:00,cheap\n")
    with pytest.raises(InputError) as error:
        read_power_series(bad)
    assert str(error.value) == f"{bad}:line 3: price: not a number: 'cheap' (expected a price)"
    odd = write(tmp_path, "odd.csv", "when,cost\n1,2\n")
    with pytest.raises(InputError, match=r"odd.csv:line 1: unrecognised price series columns"):
        read_power_series(odd)


def test_whattomine_prices_in_btc_need_a_btc_price(tmp_path):
    coin = {
        "tag": "RVN",
        "algorithm": "KawPow",
        "block_time": "60.0",
        "block_reward": 1250,
        "nethash": "4,000,000,000,000",
        "exchange_rate": 1e-7,
        "exchange_rate_curr": "BTC",
    }
    path = write(tmp_path, "coins.json", json.dumps({"coins": {"Ravencoin": coin}}))
    with pytest.raises(InputError) as error:
        read_coins(path)
    assert "coins.json:$.coins.Ravencoin: exchange_rate:" in str(error.value)
    assert "mining.btc_usd" in str(error.value)
    (rvn,), _ = read_coins(path, btc_usd=100_000)
    assert rvn.price_usd == pytest.approx(0.01)
    assert rvn.nethash_hs == 4e12 and rvn.block_time_s == 60.0


def test_minerstat_reward_per_hash_hour_becomes_the_same_revenue():
    coins, _ = read_coins(EXAMPLES / "minerstat_coins_sample.json")
    etc = next(c for c in coins if c.tag == "ETC")
    # Using nethash 1 and a 1-hour block, H / nethash × reward × 86400 / 3600 = reward × H × 24.
    assert etc.nethash_hs == 1.0 and etc.block_time_s == 3600.0 and etc.block_reward == 3.15e-12


def test_coin_file_missing_field_is_named(tmp_path):
    path = write(
        tmp_path, "c.json", json.dumps({"coins": {"X": {"tag": "X", "algorithm": "A", "block_time": 1}}})
    )
    with pytest.raises(InputError, match=r"c.json:\$.coins.X: block_reward: missing"):
        read_coins(path)
    with pytest.raises(InputError, match=r"no-such.json: no such file"):
        read_coins(tmp_path / "no-such.json")


def test_defaults_only_lists_every_default_with_date_and_source():
    inputs = load_inputs(None, resolve=resolve)
    assert inputs.power.usd_per_kwh == pytest.approx(0.10)
    assert {c.tag for c in inputs.mining.coins} == {"ETC", "RVN", "ERG"}
    assert {p.name for p in inputs.ai.token_prices} == {"8b", "32b", "70b"}
    assert all(p.is_default and p.as_of and p.source for p in inputs.provenance)
    whats = " ".join(p.what for p in inputs.provenance)
    for section in ("coin data", "power", "rent", "tokens", "mining", "capital", "constraints"):
        assert section in whats


def test_a_prices_file_overrides_defaults_and_says_so(tmp_path):
    path = write(
        tmp_path,
        "prices.yaml",
        "as_of: '2026-10-01'\npower: {usd_per_kwh: 0.04, pue: 1.2}\n"
        "rent: {usd_per_gpu_hour: {card-a: 0.2}}\n"
        "tokens: {max_utilisation: 0.5, classes: {8b: {model: m, input: 1.0, output: 2.0}}}\n"
        "capital: {resale_usd: {card-small: 33}}\nconstraints: {capex_budget_usd: 123, site_power_kw: {s: 10}}\n",
    )
    inputs = load_inputs(path, resolve=resolve)
    assert inputs.power.usd_per_kwh == 0.04 and inputs.power.pue == 1.2 and inputs.power.override_sites
    assert inputs.ai.rent_usd_per_hour == {
        "card-a": 0.2
    }  # default table names this catalog lacks are skipped
    assert inputs.ai.max_utilisation == 0.5
    eight = next(p for p in inputs.ai.token_prices if p.name == "8b")
    assert (eight.model, eight.usd_per_m_input, eight.usd_per_m_output) == ("m", 1.0, 2.0)
    assert inputs.capital.resale_usd == {"card-small": 33}
    assert inputs.constraints.capex_budget_usd == 123 and inputs.constraints.site_power_kw == {"s": 10}
    mine = [p for p in inputs.provenance if not p.is_default]
    assert any(p.what.startswith("power: usd_per_kwh") and p.as_of == "2026-10-01" for p in mine)
    assert any(p.is_default and p.what.startswith("power: host_w_per_rig") for p in inputs.provenance)


def test_prices_file_series_and_coins_paths_are_relative_to_it():
    inputs = load_inputs(EXAMPLES / "ercot_dam.yaml", resolve=resolve)
    assert inputs.power.series is not None and inputs.power.series.settlement_point == "HB_NORTH"
    assert inputs.power.usd_per_kwh == pytest.approx(inputs.power.series.mean_usd_kwh)
    assert {c.tag for c in inputs.mining.coins} == {"ETC", "RVN"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "power: {usd_per_kwhh: 0.1}\n",
            r"\$.power.usd_per_kwhh: usd_per_kwhh: unknown key; did you mean: usd_per_kwh",
        ),
        ("powr: {}\n", r"\$.powr: powr: unknown key; did you mean: power"),
        ("power: {pue: 0.5}\n", r"\$.power.pue: pue: Input should be greater than or equal to 1"),
        (
            "rent: {usd_per_gpu_hour: {card-aa: 0.1}}\n",
            r"\$.rent.usd_per_gpu_hour.card-aa: card-aa: unknown GPU 'card-aa'; did you mean: card-a",
        ),
        ("power: [1, 2\n", r"line \d+: not valid YAML"),
        ("- 1\n", r"\$: the prices file must be a mapping"),
        (
            "power: {series: {file: missing.csv}}\n",
            r"\$.power.series.file: file: no such file: .*missing.csv",
        ),
        ("mining: {coins: gone.json}\n", r"\$.mining.coins: coins: no such file: .*gone.json"),
        # issue 13: non-finite prices were accepted and carried into every verdict
        ("power: {usd_per_kwh: .inf}\n", r"\$.power.usd_per_kwh: usd_per_kwh: Input should be a finite number"),
        ("tokens: {classes: {c: {model: m, input: .nan, output: 1}}}\n", r"\$.tokens.classes.c.input: input: .*finite"),
        ("rent: {usd_per_gpu_hour: {card-a: -.inf}}\n", r"usd_per_gpu_hour.card-a: card-a: Input should be a finite number"),
        ("a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
         "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
         "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n", r"once aliases are expanded"),
    ],
)  # fmt: skip
def test_bad_prices_files_are_reported_with_file_and_field(tmp_path, text, message):
    path = write(tmp_path, "prices.yaml", text)
    with pytest.raises(InputError, match=message) as error:
        load_inputs(path, resolve=resolve)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("price", ["inf", "nan", "1e400", "99e300"])
def test_non_finite_series_prices_are_refused_with_their_line(tmp_path, price):
    bad = write(tmp_path, "s.csv", f"timestamp,price\n2026-07-01T00:00,0.03\n2026-07-01T01:00,{price}\n")
    with pytest.raises(InputError, match=r"s\.csv:line 3: price: out of range"):
        read_power_series(bad)


def test_coin_data_with_infinite_numbers_is_refused(tmp_path):
    coins = '{"coins": {"X": {"tag": "X", "algorithm": "A", "block_time": 1e400, "block_reward": 1,'
    path = write(
        tmp_path, "c.json", coins + ' "nethash": 1, "exchange_rate": 1, "exchange_rate_curr": "USD"}}}'
    )
    with pytest.raises(InputError, match=r"c\.json:\$\.coins\.X\.block_time: number out of range"):
        read_coins(path)


def test_missing_prices_file(tmp_path):
    with pytest.raises(InputError, match=r"nope.yaml: no such file"):
        load_inputs(tmp_path / "nope.yaml", resolve=resolve)


def test_the_shared_ercot_extract_and_native_annual_file_read_the_same_mean():
    data = Path(__file__).parents[1] / "energy" / "data"
    plain = read_power_series(data / "ercot_hb_north_dam_2024_fall_back.csv")
    native = read_power_series(data / "ercot_np4-180-er_2024_fall_back.csv", settlement_point="HB_NORTH")
    assert plain.points == native.points == 5
    assert plain.mean_usd_kwh == pytest.approx(native.mean_usd_kwh)
    assert plain.max_usd_kwh == pytest.approx(0.0136)
