"""`rigshift energy simulate` end to end on the demo farm over real (excerpted) ERCOT price files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rigshift.cli.app import app
from rigshift.cli.energy import _converted_by_class
from rigshift.decision.service import decision_for
from rigshift.energy.contracts import PowerTerms
from rigshift.energy.demand import Demand, Event, decision_demand
from rigshift.energy.farm import build_farm
from rigshift.energy.prices import read_price_series
from rigshift.energy.simulate import BASELINES, STRATEGIES, TOTAL_KEYS, simulate
from rigshift.fleet.demo import demo_fleet

DATA = Path(__file__).parent / "data"
URI = DATA / "ercot_hb_north_dam_2021_uri_excerpt.csv"
WEEKS = {
    "2021 day-ahead (Uri)": (DATA / "ercot_hb_north_dam_2021_uri_week.csv", True),
    "2022 day-ahead (July)": (DATA / "ercot_hb_north_dam_2022_july_week.csv", True),
    "2024 day-ahead (January)": (DATA / "ercot_hb_north_dam_2024_january_week.csv", True),
    "2024 real-time 15 min (January)": (DATA / "ercot_hb_north_rt15_2024_january_week.csv", False),
}


@pytest.fixture(scope="module")
def made():
    return decision_for(demo_fleet())[0]


@pytest.fixture(scope="module")
def farm(made):
    return build_farm(demo_fleet(), sites=["tx-ercot"], converted=_converted_by_class(made))


@pytest.fixture(scope="module")
def demand(made, farm) -> Demand:
    return decision_demand(made, farm, "America/Chicago")


def test_json_carries_every_strategy_the_best_baseline_and_the_high_price_hours(tmp_path: Path) -> None:
    report = tmp_path / "r.html"
    result = CliRunner().invoke(
        app, ["energy", "simulate", "--demo", "--prices", str(URI), "--json", "--html", str(report)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for name in STRATEGIES:
        assert set(data[name]) >= set(TOTAL_KEYS)
    nets = {name: data[name]["net_usd"] for name in BASELINES}
    assert data["best_baseline"] == max(nets, key=nets.__getitem__)
    assert set(data["high_price_hours"]) == {"hours", "energy_cost_usd", "revenue_usd"}
    prices = np.array([row["usd_per_mwh"] for row in data["intervals"]])
    assert data["high_price_hours"]["hours"] == (prices >= 1000).sum()  # hourly file
    assert len(data["intervals"]) == 36
    assert data["inputs"]["prices"]["tx-ercot"]["max_usd_mwh"] == pytest.approx(7873.89)
    # Uri: power at thousands of $/MWh. always-on pays it; the policy does not run at a loss.
    assert data["policy"]["net_usd"] > data["always_on"]["net_usd"]
    assert data["policy"]["slo_minutes_lost"] == 0
    page = report.read_text()
    assert "<script" not in page and " src=" not in page


def test_demand_comes_from_the_decision_not_from_capacity(made, farm, demand) -> None:
    ai = made.economics.inputs.ai
    (interactive,) = demand.interactive
    serving = [g for g in farm.site("tx-ercot").groups if g.converted]
    capacity = sum(g.count * g.levels[0].tokens_per_s for g in serving)
    farm_output_tps = ai.demand.requests_per_day("8b") * ai.output_tokens_per_request / 86400
    # never more than the decision's demand, nor than its converted cards serve at econ's utilisation
    assert interactive.mean_tokens_per_s <= farm_output_tps + 1e-9
    assert interactive.mean_tokens_per_s <= capacity * ai.max_utilisation + 1e-9
    assert interactive.profile == tuple(ai.demand.load_profile)
    # doubling the decision's demand (econ's --demand) moves the energy demand; the cards do not
    (batch,) = demand.batch
    assert batch.tokens == pytest.approx(interactive.mean_tokens_per_s * 86400 * 0.25, rel=1e-3)


@pytest.mark.parametrize("name", list(WEEKS))
def test_the_policy_never_loses_an_hour_to_a_baseline_and_keeps_its_limits(name, farm, demand) -> None:
    path, day_ahead = WEEKS[name]
    prices = read_price_series(path)
    sim = simulate(farm, {"tx-ercot": prices}, demand, day_ahead=day_ahead)
    data = sim.to_json(with_intervals=False)
    policy = data["policy"]
    # Hour by hour the policy can do what any baseline does: before the fixed costs (staff for the
    # converted cards, which the mining baselines do not pay) it nets at least as much as each.
    for baseline in BASELINES:
        ours = policy["net_usd"] + policy["fixed_cost_usd"]
        theirs = data[baseline]["net_usd"] + data[baseline]["fixed_cost_usd"]
        assert ours >= theirs - 1e-6, baseline
    best = data[data["best_baseline"]]["net_usd"]
    assert data["policy_loses"] == (policy["net_usd"] < best - 1e-6)
    assert policy["slo_minutes_lost"] == 0
    high = data["high_price_hours"]
    assert high["energy_cost_usd"] <= high["revenue_usd"] + 1e-6
    # Every deadline a baseline meets without running at a loss (ai_curtailed), the policy meets.
    assert policy["batch_deadlines_met"] >= data["ai_curtailed"]["batch_deadlines_met"]
    # Nothing but the SLO's replicas runs where its power costs more than it earns: mining stops
    # wherever a card's coins do not pay its power.
    run = sim.runs["policy"]["tx-ercot"]
    site = farm.site("tx-ercot")
    price = prices.usd_per_kwh * site.pue
    pays = [g for g in site.groups if g.mining_w > 0]
    best_margin = max(g.mining_usd_per_hour / ((g.mining_w + g.host_w) / 1000) for g in pays)
    assert (run.mining_cards[price > best_margin] == 0).all()


def test_the_policy_nets_more_than_the_best_baseline_outside_uri(farm, demand) -> None:
    for name, (path, day_ahead) in WEEKS.items():
        sim = simulate(farm, {"tx-ercot": read_price_series(path)}, demand, day_ahead=day_ahead)
        data = sim.to_json(with_intervals=False)
        if "Uri" in name:  # a week with the farm off: the staff's pay is the whole loss
            assert data["policy_loses"] and data["policy_margin_usd"] >= -data["policy"]["fixed_cost_usd"]
        else:
            assert not data["policy_loses"] and data["policy"]["batch_deadlines_met"] == 7, name


def test_batch_moves_to_cheap_hours_and_meets_its_deadlines(farm, demand) -> None:
    prices = read_price_series(WEEKS["2024 day-ahead (January)"][0])
    sim = simulate(farm, {"tx-ercot": prices}, demand, day_ahead=True)
    totals = sim.totals("policy")
    assert totals.batch_deadlines_met == totals.batch_deadlines_total > 0
    curtailed = sim.totals("ai_curtailed")
    assert totals.batch_revenue_usd == pytest.approx(curtailed.batch_revenue_usd)
    run, flat = sim.runs["policy"]["tx-ercot"], sim.runs["ai_curtailed"]["tx-ercot"]
    ran, ran_flat = run.batch_tokens > 0, flat.batch_tokens > 0
    price = prices.usd_per_kwh
    # the same tokens, run at a lower mean price than batch that runs as it comes
    assert ran.any() and ran_flat.any()
    mean = np.average(price, weights=run.batch_tokens)
    assert mean < np.average(price, weights=flat.batch_tokens)


def test_an_event_sheds_is_reported_and_paid(farm, demand) -> None:
    prices = read_price_series(DATA / "ercot_hb_north_rt15_2024_excerpt.csv")
    start = prices.start + 3600
    event = Event.model_validate({"site": "tx-ercot", "start": start, "end": start + 3600, "shed_kw": 5})
    terms = PowerTerms.model_validate({"sites": {"tx-ercot": {"demand_response": {"usd_per_event": 250}}}})
    sim = simulate(farm, {"tx-ercot": prices}, demand, [event], terms=terms)
    free = simulate(farm, {"tx-ercot": prices}, demand, []).runs["policy"]["tx-ercot"]
    run = sim.runs["policy"]["tx-ercot"]
    inside = run.in_event
    assert inside.sum() == 4
    assert (run.power_kw[inside] <= free.power_kw[inside] - 5 + 1e-6).all()
    assert run.power_kw[~inside] == pytest.approx(free.power_kw[~inside])
    (record,) = run.events
    assert record["intervals_over_target"] == 0 and record["payment_usd"] == 250
    totals = sim.totals("policy")
    assert totals.demand_response_usd == 250 and totals.power_credit_usd == pytest.approx(250)
    assert totals.slo_minutes_lost == 0  # outside the event nothing is lost


def test_a_fixed_price_contract_resells_unused_power_and_decides_on_the_market_price(farm, demand) -> None:
    prices = read_price_series(WEEKS["2021 day-ahead (Uri)"][0])
    index = simulate(farm, {"tx-ercot": prices}, demand, day_ahead=True)
    mw = 0.1
    terms = PowerTerms.model_validate(
        {"sites": {"tx-ercot": {"contract": {"kind": "fixed", "usd_per_mwh": 30, "mw": mw}}}}
    )
    fixed = simulate(farm, {"tx-ercot": prices}, demand, day_ahead=True, terms=terms)
    a, b = index.runs["policy"]["tx-ercot"], fixed.runs["policy"]["tx-ercot"]
    assert b.power_kw == pytest.approx(a.power_kw)  # the same decisions: opportunity cost = market
    unused = np.maximum(0.0, mw * 1000 - b.power_kw)
    credit = float((unused * prices.usd_per_kwh).sum())  # hourly file: kW x 1 h
    totals = fixed.totals("policy")
    assert totals.power_credit_usd == pytest.approx(credit)
    over = np.maximum(0.0, b.power_kw - mw * 1000)
    assert totals.energy_cost_usd == pytest.approx(
        30 * mw * len(prices) + float((over * prices.usd_per_kwh).sum())
    )
    # in Uri the resale dwarfs the farm's revenue: the miners' real edge
    assert totals.power_credit_usd > 10 * totals.token_revenue_usd


def test_four_cp_charges_the_peaks_and_the_policy_stays_off_at_peak_risk(
    tmp_path: Path, farm, demand
) -> None:
    prices = read_price_series(WEEKS["2022 day-ahead (July)"][0])
    starts = prices.starts
    peaks = tmp_path / "peaks.csv"
    chosen = [int(starts[i]) for i in (40, 111)]  # two afternoons of the week
    peaks.write_text(
        "timestamp\n" + "".join(f"{datetime.fromtimestamp(t, UTC).isoformat()}\n" for t in chosen)
    )
    terms = PowerTerms.model_validate(
        {"sites": {"tx-ercot": {"four_cp": {"peaks": str(peaks), "usd_per_kw_year": 50.0}}}}
    )
    sim = simulate(farm, {"tx-ercot": prices}, demand, day_ahead=True, terms=terms)
    for name in STRATEGIES:
        run = sim.runs[name]["tx-ercot"]
        mean_kw = run.power_kw[[40, 111]].mean()
        assert run.totals.transmission_usd == pytest.approx(50.0 * mean_kw * len(prices) / 8766)
    from rigshift.energy.policy import peak_risk

    risk = peak_risk(starts, prices.usd_per_kwh)
    run = sim.runs["policy"]["tx-ercot"]
    assert risk.any()
    assert (run.mining_cards[risk] == 0).all() and (run.batch_cards[risk] == 0).all()


def test_peak_risk_needs_no_hindsight() -> None:
    from rigshift.energy.policy import peak_risk

    prices = read_price_series(WEEKS["2022 day-ahead (July)"][0])
    risk = peak_risk(prices.starts, prices.usd_per_kwh)
    later = prices.usd_per_kwh.copy()
    later[100:] = later[100:] * 10  # a different future
    assert (peak_risk(prices.starts, later)[:100] == risk[:100]).all()


@pytest.mark.parametrize("width", [80, 120])
def test_text_fits_the_terminal_and_names_the_best_baseline(width: int) -> None:
    result = CliRunner().invoke(
        app, ["energy", "simulate", "--demo", "--prices", str(URI), "--width", str(width)]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= width
    assert any("the best baseline" in line for line in lines)
    assert any(line.startswith("[1] prices:") for line in lines)


def test_the_text_says_plainly_when_the_policy_loses(tmp_path: Path) -> None:
    # an SLO the demand cannot pay for: every converted card kept up for almost no tokens
    demand = tmp_path / "d.yaml"
    demand.write_text(
        "interactive:\n  - {deployment: chat, site: tx-ercot, min_replicas: 2, mean_tokens_per_s: 0.01,"
        " usd_per_m_tokens: 0.01}\n"
    )
    prices = WEEKS["2024 day-ahead (January)"][0]
    args = ["energy", "simulate", "--demo", "--prices", str(prices), "--demand", str(demand), "--width", "80"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "THE POLICY LOSES" in result.output
    data = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    assert data["policy_loses"] and data["policy_margin_usd"] < 0


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
    power = tmp_path / "p.yaml"
    power.write_text("sites:\n  tx-ercot:\n    contract: {kind: fixed, usd_per_mwh: 30}\n")
    bad = runner.invoke(app, ["energy", "simulate", "--demo", "--prices", str(URI), "--power", str(power)])
    assert bad.exit_code == 2 and "mw" in bad.output and "Traceback" not in bad.output


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
