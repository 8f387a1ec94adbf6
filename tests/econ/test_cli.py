"""`rigshift econ` end to end: real GPU catalog, real estimator, real solver, shipped defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rigshift.catalog.gpus import gpu_catalog
from rigshift.cli.app import app
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
    economics = Economics.model_validate_json(result.stdout)
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
    assert economics.sensitivity is not None and len(economics.sensitivity.cells) == 18
    assert any(p.is_default for p in economics.defaults_used)
    assert json.loads(economics.model_dump_json()) == json.loads(result.stdout)


def test_terminal_and_html_report(fleet_file, tmp_path):
    html = tmp_path / "report.html"
    result = runner.invoke(app, ["econ", str(fleet_file), "--html", str(html), "--budget", "2000"])
    assert result.exit_code == 0, result.output
    for heading in ("Per card class", "Conversion plan", "Sensitivity", "Inputs used", "DEFAULT"):
        assert heading in result.stdout
    page = html.read_text(encoding="utf-8")
    assert "<svg" in page and "<polyline" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "<script" not in page


def test_demo_runs():
    result = runner.invoke(app, ["econ", "--demo", "--no-sensitivity", "--json"])
    assert result.exit_code == 0, result.output
    economics = Economics.model_validate_json(result.stdout)
    assert economics.totals.gpus > 100
    assert economics.plan.net_capex_usd <= economics.plan.capex_budget_usd + 1e-6


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
    assert Economics.model_validate_json(result.stdout).plan == economics.plan
    assert "<table>" in render_html(economics)
