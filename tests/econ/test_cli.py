"""`rigshift econ` end to end: real GPU catalog, real estimator, real solver, shipped defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rigshift.catalog.gpus import gpu_catalog
from rigshift.cli.app import app
from rigshift.decision.service import without_decision
from rigshift.econ import Economics
from rigshift.econ.html import render_html
from rigshift.econ.service import fleet_economics
from rigshift.fleet.model import Fleet, Gpu, Rig, Site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prices"
runner = CliRunner()


def _fleet() -> Fleet:
    catalog = gpu_catalog()

    def rig(name: str, card: str, n: int) -> Rig:
        s = catalog.resolve(card)
        return Rig(
            name=name,
            site="farm",
            cpu_cores=2,
            ram_gib=8,
            gpus=[Gpu(model=s.key, vram_gib=s.vram_gib) for _ in range(n)],
        )

    return Fleet(
        name="small-farm",
        sites=[Site(name="farm", power_price_usd_kwh=0.06, power_budget_kw=20)],
        rigs=[rig("r1", "RX 580 8GB", 12), rig("r2", "RTX 3060 12GB", 8), rig("r3", "P104-100", 8)],
    )


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(_fleet().model_dump(mode="json")), encoding="utf-8")
    return path


def test_json_output_round_trips_and_uses_the_estimator(fleet_file):
    result = runner.invoke(app, ["econ", str(fleet_file), "--json", "--prices", str(EXAMPLES / "flat.yaml")])
    assert result.exit_code == 0, result.output
    economics = Economics.model_validate_json(without_decision(result.stdout))
    assert economics.fleet == "small-farm"
    assert sum(c.card.count for c in economics.cards) == 28
    rtx = next(c for c in economics.cards if "3060" in c.card.gpu_name)
    # A 12 GB card serves the 8B class on one card at a real speed from the estimator.
    assert rtx.inference.available and rtx.inference.model_class == "8b"
    assert "on 1 GPU" in rtx.inference.detail
    # A 4 GB P104-100 cannot hold a 70B model on a rig of 8 of them: no revenue from that class.
    p104 = next(c for c in economics.cards if "P104" in c.card.gpu_name)
    seventy = next(o for o in p104.inference_options if o.model_class == "70b")
    assert not seventy.available and seventy.revenue_usd_day == 0.0
    # The operator's file set the power price: it overrides the fleet's $0.06.
    assert {c.card.usd_per_kwh for c in economics.cards} == {0.045}
    # The sweep: 6 power x 5 token factors (down to x0.1), and 7 demand levels (across utilisation).
    assert economics.sensitivity is not None and len(economics.sensitivity.cells) == 30
    assert min(economics.sensitivity.token_factors) == 0.1
    assert len(economics.sensitivity.demand_cells) == 7
    # Every run states the demand it assumes.
    data = json.loads(result.stdout)
    assert data["requests_per_day"] == pytest.approx(
        sum(c.requests_per_day for c in economics.inputs.ai.demand.classes)
    )
    assert data["tokens_per_day"] == pytest.approx(data["requests_per_day"] * 1250)
    assert any(p.is_default for p in economics.defaults_used)
    data.pop("decision")
    assert json.loads(economics.model_dump_json()) == data


def test_terminal_and_html_report(fleet_file, tmp_path):
    html = tmp_path / "report.html"
    result = runner.invoke(app, ["econ", str(fleet_file), "--html", str(html), "--budget", "2000"])
    assert result.exit_code == 0, result.output
    for heading in ("Per card class", "Conversion plan", "Sensitivity", "Inputs used", "DEFAULT"):
        assert heading in result.stdout
    # The demand and every default that drives the verdict are printed, with their origin.
    out = result.stdout
    assert "Demand assumed:" in out and "tokens/day" in out and "requests/day" in out
    assert "Figures that drive the verdict" in out
    assert "8b $0.03/$0.05" in out  # market-clearing default token prices
    assert "$4,000/month per 200 AI GPUs" in out and "ILLUSTRATIVE" in out
    assert "tokens ×0.1" in out and "Sensitivity to demand" in out
    page = html.read_text(encoding="utf-8")
    assert "Demand assumed" in page and "Figures that drive the verdict" in page
    assert "<svg" in page and "<polyline" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "<script" not in page


def test_demo_runs():
    result = runner.invoke(app, ["econ", "--demo", "--no-sensitivity", "--json"])
    assert result.exit_code == 0, result.output
    economics = Economics.model_validate_json(without_decision(result.stdout))
    assert economics.totals.gpus > 100
    assert economics.plan.net_capex_usd <= economics.plan.capex_budget_usd + 1e-6
    # The demo's demand is stated, and no class sells more than it.
    assert economics.requests_per_day > 0 and economics.tokens_per_day == economics.requests_per_day * 1250
    assert "ASSUMPTION" in economics.inputs.ai.demand.source
    for service in economics.plan.service:
        assert service.served_requests_per_day <= service.requests_per_day + 1e-6
    # The per-class "best" is the plan's verdict for most of the class's cards.
    for card in economics.cards:
        fates: dict[str, int] = {}
        for a in economics.plan.after:
            if a.card_id == card.card.id and not a.bought:
                fates[a.use] = fates.get(a.use, 0) + a.count
        assert fates[card.best_use] == max(fates.values())
    # Unlocks are priced: the demo's x1 rigs need new boards, and fixes that ready no GPU rank
    # after every fix that does.
    risers = next(u for u in economics.unlocks if u.action == "replace_risers")
    assert "new boards" in risers.text and risers.cost_usd and "boards" in risers.cost_detail
    ranked = list(economics.unlocks)
    useful = [i for i, u in enumerate(ranked) if u.gpus_newly_ready or u.gpus_tier_up]
    useless = [i for i, u in enumerate(ranked) if not (u.gpus_newly_ready or u.gpus_tier_up)]
    assert not useful or not useless or max(useful) < min(useless)
    cores = next(u for u in ranked if u.action == "add_cores")
    if not cores.gpus_newly_ready and not cores.gpus_tier_up:
        assert cores.monthly_gain_usd == 0.0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["econ"], "give a FLEET file or --demo"),
        (["econ", "--demo", "--budget", "-5"], "--budget: budget must be ≥ 0"),
        (["econ", "missing-fleet.yaml"], "missing-fleet.yaml: no such file"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args, needle):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output


def test_bad_prices_file_names_the_file_and_field_and_writes_nothing(fleet_file, tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("tokens:\n  classes:\n    8b: {model: llama-3.1-8b, input: cheap, output: 0.2}\n")
    html = tmp_path / "report.html"
    html.write_text("previous report")
    result = runner.invoke(app, ["econ", str(fleet_file), "--prices", str(prices), "--html", str(html)])
    assert result.exit_code == 2
    assert f"{prices}:$.tokens.classes.8b.input: input:" in result.output
    assert "Traceback" not in result.output
    assert html.read_text() == "previous report"  # nothing already stored is lost


def test_library_function_matches_the_cli(fleet_file):
    economics = fleet_economics(_fleet(), EXAMPLES / "flat.yaml", with_sensitivity=False)
    result = runner.invoke(
        app, ["econ", str(fleet_file), "--json", "--no-sensitivity", "--prices", str(EXAMPLES / "flat.yaml")]
    )
    assert Economics.model_validate_json(without_decision(result.stdout)).plan == economics.plan
    assert "<table>" in render_html(economics)


def test_no_assessment_reaches_the_economics(fleet_file, monkeypatch):
    # Regression: the flag was documented but never passed on.
    import rigshift.econ.service as service  # the command imports it when it runs (lazy CLI)

    seen = {}
    real = service.fleet_economics

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "fleet_economics", spy)
    result = runner.invoke(app, ["econ", str(fleet_file), "--no-assessment", "--no-sensitivity", "--json"])
    assert result.exit_code == 0, result.output
    assert seen["use_assessment"] is False
    seen.clear()
    result = runner.invoke(app, ["econ", str(fleet_file), "--no-sensitivity", "--json"])
    # With the assessment the economics are the farm decision's (docs/decision.md), not a second run.
    assert result.exit_code == 0, result.output
    assert seen == {} and json.loads(result.stdout)["decision"]["funnel"]["gpus"] > 0


def test_without_the_assessment_a_card_may_sell_a_class_the_assessment_rejects():
    # A P104-100 (4 GB) rig: the assessment's bar (8k context, 20 tok/s a stream) rejects what the
    # estimator alone lets it serve; --no-assessment must change the answer, not be ignored.
    with_bar = fleet_economics(_fleet(), EXAMPLES / "flat.yaml", with_sensitivity=False)
    without = fleet_economics(_fleet(), EXAMPLES / "flat.yaml", with_sensitivity=False, use_assessment=False)

    def served(e):
        return {(c.card.gpu_key, o.model_class) for c in e.cards for o in c.inference_options if o.available}

    assert served(with_bar) <= served(without)
    assert served(with_bar) != served(without)


def test_unknown_cards_are_carried_as_unassessed(tmp_path):
    fleet = _fleet()
    odd = Rig(
        name="r4",
        site="farm",
        cpu_cores=2,
        ram_gib=8,
        gpus=[
            Gpu(
                model="unresolved",
                reported_name="GeForce RTX 9999",
                name_suggestions=["geforce-rtx-3090"],
                vram_gib=24,
            ),
            Gpu(model="unresolved", reported_name="GeForce RTX 9999", vram_gib=24),
            Gpu(model="not-a-catalog-card", vram_gib=8),
        ],
    )
    fleet = fleet.model_copy(update={"rigs": [*fleet.rigs, odd]})
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet.model_dump(mode="json")), encoding="utf-8")
    result = runner.invoke(app, ["econ", str(path), "--json", "--no-sensitivity"])
    assert result.exit_code == 0, result.output
    economics = Economics.model_validate_json(without_decision(result.stdout))
    assert sum(c.card.count for c in economics.cards) == 28  # the known cards, priced
    unassessed = {u.name: u for u in economics.unassessed}
    assert unassessed["GeForce RTX 9999"].count == 2
    assert "geforce-rtx-3090" in unassessed["GeForce RTX 9999"].hint
    assert unassessed["not-a-catalog-card"].count == 1
    text = runner.invoke(app, ["econ", str(path), "--no-sensitivity"])
    assert text.exit_code == 0, text.output
    assert "Unassessed: 3 GPUs" in text.stdout


def test_a_3070_serves_the_8b_class_alone():
    # Replica sized from the request mix (1,000 + 250 tokens → 2,048 per stream), not 4 x 8k:
    # an 8 GB card holds an 8B Q4 model on its own.
    catalog = gpu_catalog()
    s = catalog.resolve("RTX 3070")
    fleet = Fleet(
        name="3070s",
        sites=[Site(name="farm", power_price_usd_kwh=0.06)],
        rigs=[
            Rig(
                name="r",
                site="farm",
                cpu_cores=8,
                ram_gib=32,
                gpus=[Gpu(model=s.key, vram_gib=s.vram_gib)] * 6,
            )
        ],
    )
    economics = fleet_economics(fleet, None, with_sensitivity=False, use_assessment=False)
    (card,) = economics.cards
    eight = next(o for o in card.inference_options if o.model_class == "8b")
    assert eight.available and eight.gpus_per_replica == 1, eight.detail
    assert "× 2048 tokens" in eight.detail


def _demand_cli(fleet_file, demand, *extra):
    result = runner.invoke(
        app, ["econ", str(fleet_file), "--json", "--no-sensitivity", "--demand", str(demand), *extra]
    )
    assert result.exit_code == 0, result.output
    return Economics.model_validate_json(without_decision(result.stdout))


def test_demand_from_an_econ_demand_file(fleet_file, tmp_path):
    demand = tmp_path / "demand.yaml"
    demand.write_text("source: our pipeline\nrequests_per_day: {8b: 1000}\ntokens_per_day: {32b: 2500000}\n")
    economics = _demand_cli(fleet_file, demand)
    assert economics.requests_per_day == pytest.approx(1000 + 2000)  # 2.5 M tokens / 1,250 a request
    assert economics.tokens_per_day == pytest.approx(3000 * 1250)
    assert "our pipeline" in economics.inputs.ai.demand.source
    # listed with the inputs used, and not as a default
    (given,) = [p for p in economics.inputs.provenance if p.what.startswith("demand")]
    assert not given.is_default and "our pipeline" in given.source
    for service in economics.plan.service:
        assert service.served_requests_per_day <= service.requests_per_day + 1e-6


def test_the_example_demand_file_reads(fleet_file):
    example = Path(__file__).resolve().parents[2] / "examples" / "prices" / "econ-demand.yaml"
    economics = _demand_cli(fleet_file, example)
    assert economics.requests_per_day == pytest.approx(1_500_000 + 150_000_000 / 1250)
    assert economics.inputs.ai.demand.load_profile[10] == 1.6
    assert economics.inputs.ai.demand.as_of == "2026-12-01"


def test_demand_from_a_plan_demand_file(fleet_file):
    plan_demand = Path(__file__).resolve().parents[2] / "examples" / "demand" / "chat-and-rag.yaml"
    economics = _demand_cli(fleet_file, plan_demand)
    # rag-7b asks 4 requests/s all day: 345,600 requests of the 8B class; replica-only deployments
    # carry no volume and say so.
    assert economics.inputs.ai.demand.requests_per_day("8b") == pytest.approx(4 * 86_400)
    assert any("chat-8b" in n for n in economics.inputs.ai.demand.notes)


def test_demand_from_a_usage_export(fleet_file, tmp_path):
    rows = [
        {"group": "llama-3.1-8b", "requests": 7000, "prompt_tokens": 1, "completion_tokens": 1},
        {"group": "no-such-model-xyz", "requests": 5, "prompt_tokens": 1, "completion_tokens": 1},
    ]
    usage = tmp_path / "usage.json"
    usage.write_text(json.dumps(rows))
    economics = _demand_cli(fleet_file, usage, "--usage-days", "7")
    assert economics.requests_per_day == pytest.approx(1000)
    assert "7 days" in economics.inputs.ai.demand.source
    csv_file = tmp_path / "usage.csv"
    csv_file.write_text("group,requests,prompt_tokens,completion_tokens\nllama-3.1-8b,3000,1,1\n")
    assert _demand_cli(fleet_file, csv_file, "--usage-days", "3").requests_per_day == pytest.approx(1000)


def test_a_usage_export_over_no_days_is_an_error(fleet_file, tmp_path):
    usage = tmp_path / "usage.json"
    usage.write_text(json.dumps([{"group": "llama-3.1-8b", "requests": 10}]))
    result = runner.invoke(app, ["econ", str(fleet_file), "--demand", str(usage), "--usage-days", "0"])
    assert result.exit_code == 2
    assert "--usage-days" in result.output and "Traceback" not in result.output


def test_a_demand_for_an_unpriced_class_is_an_error(fleet_file, tmp_path):
    demand = tmp_path / "demand.yaml"
    demand.write_text("requests_per_day: {8bb: 1000}\n")
    result = runner.invoke(app, ["econ", str(fleet_file), "--demand", str(demand)])
    assert result.exit_code == 2
    assert "8bb" in result.output and "8b" in result.output and "Traceback" not in result.output
