"""`rigshift energy simulate` end to end on the demo farm over a real (excerpted) ERCOT price file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rigshift.cli.app import app
from rigshift.energy.demand import Demand, Event, demo_demand
from rigshift.energy.farm import build_farm
from rigshift.energy.prices import read_price_series
from rigshift.energy.simulate import simulate
from rigshift.fleet.demo import demo_fleet

DATA = Path(__file__).parent / "data"
URI = DATA / "ercot_hb_north_dam_2021_uri_excerpt.csv"
KEYS = {
    "net_usd",
    "energy_cost_usd",
    "token_revenue_usd",
    "mining_revenue_usd",
    "batch_deadlines_met",
    "batch_deadlines_total",
    "slo_minutes_lost",
    "curtailed_hours",
}


@pytest.fixture(scope="module")
def farm():
    return build_farm(demo_fleet(), sites=["tx-ercot"])


def test_json_has_the_three_strategies_intervals_and_inputs(tmp_path: Path) -> None:
    report = tmp_path / "r.html"
    result = CliRunner().invoke(
        app, ["energy", "simulate", "--demo", "--prices", str(URI), "--json", "--html", str(report)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for name in ("policy", "always_on", "mining_only"):
        assert set(data[name]) >= KEYS
    assert len(data["intervals"]) == 36
    assert data["inputs"]["prices"]["tx-ercot"]["max_usd_mwh"] == pytest.approx(7873.89)
    assert data["inputs"]["demand"]["interactive"] and data["inputs"]["demand"]["batch"]
    # Uri: power at thousands of $/MWh. The policy sheds what does not pay; always-on does not.
    assert data["policy"]["net_usd"] > data["always_on"]["net_usd"]
    assert data["policy"]["energy_cost_usd"] < data["always_on"]["energy_cost_usd"] / 3
    assert data["policy"]["slo_minutes_lost"] == 0
    page = report.read_text()
    assert page.count("<svg") == 3 and "<script" not in page  # self-contained: nothing fetched
    assert " src=" not in page and " href=" not in page


def test_bad_input_is_a_clear_error_with_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["energy", "simulate", "--demo", "--prices", str(tmp_path / "none.csv")])
    assert missing.exit_code == 2 and "none.csv: no such file" in missing.output
    both = runner.invoke(app, ["energy", "simulate", "--prices", str(URI)])
    assert both.exit_code == 2
    demand = tmp_path / "d.yaml"
    demand.write_text(
        "interactive:\n  - {deployment: x, site: tx-ercto, min_replicas: 1, mean_tokens_per_s: 1, usd_per_m_tokens: 0.2}\n"
    )
    typo = runner.invoke(app, ["energy", "simulate", "--demo", "--prices", str(URI), "--demand", str(demand)])
    assert typo.exit_code == 2 and "tx-ercot" in typo.output


def test_an_event_sheds_and_is_reported(farm) -> None:
    prices = read_price_series(DATA / "ercot_hb_north_rt15_2024_excerpt.csv")
    demand = demo_demand(farm)
    start = prices.start + 3600
    event = Event.model_validate({"site": "tx-ercot", "start": start, "end": start + 3600, "shed_kw": 40})
    sim = simulate(farm, {"tx-ercot": prices}, demand, [event])
    run = sim.runs["policy"]["tx-ercot"]
    free = simulate(farm, {"tx-ercot": prices}, demand, []).runs["policy"]["tx-ercot"]
    inside = run.in_event
    assert inside.sum() == 4
    assert (run.power_kw[inside] <= free.power_kw[inside] - 40 + 1e-6).all()
    assert run.power_kw[~inside] == pytest.approx(free.power_kw[~inside])
    (record,) = run.events
    assert record["kwh_avoided"] >= 40 * 1.0 - 1e-6 and record["intervals_over_target"] == 0
    assert sim.totals("policy").slo_minutes_lost == 0  # outside the event nothing is lost


def test_batch_deadlines_are_met_and_batch_moves_to_cheap_hours(farm) -> None:
    prices = read_price_series(URI)
    demand = demo_demand(farm)
    heavy = Demand(
        interactive=demand.interactive,
        batch=[demand.batch[0].model_copy(update={"window_hours": 30, "tokens": demand.batch[0].tokens / 4})],
    )
    sim = simulate(farm, {"tx-ercot": prices}, heavy, day_ahead=True)
    totals = sim.totals("policy")
    assert totals.batch_deadlines_met == totals.batch_deadlines_total == 1
    run = sim.runs["policy"]["tx-ercot"]
    ran = run.batch_cards > 0
    assert ran.any()
    # The batch ran in the cheapest hours it could: its mean price is below the span's mean.
    assert prices.usd_per_kwh[ran].mean() < prices.usd_per_kwh.mean()


def test_event_and_events_on_the_database(tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "r.db")
    made = runner.invoke(
        app,
        ["energy", "event", "--site", "tx-ercot", "--shed-kw", "50", "--start", "2026-08-01T15:00-05:00",
         "--end", "2026-08-01T17:00-05:00", "--db", db],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    event = json.loads(made.output)
    assert event["end_at"] - event["start_at"] == 7200 and event["shed_kw"] == 50
    listed = json.loads(runner.invoke(app, ["energy", "events", "--db", db]).output)["data"]
    assert [e["id"] for e in listed] == [event["id"]]
    both = runner.invoke(
        app,
        ["energy", "event", "--site", "s", "--shed-kw", "1", "--target-kw", "2", "--end", "1", "--db", db],
    )
    assert both.exit_code == 2 and "one of them" in both.output
    no_key = runner.invoke(
        app, ["energy", "events", "--server", "http://127.0.0.1:9"], env={"RIGSHIFT_ADMIN_KEY": ""}
    )
    assert no_key.exit_code == 2 and "admin key" in no_key.output
