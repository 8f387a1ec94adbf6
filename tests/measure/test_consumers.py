"""assess, econ and plan read stored measurements by default (`--no-measurements`: priors)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.models import load_model
from rigshift.cli.app import app
from rigshift.econ.inputs import AiInputs, ModelClassPrice
from rigshift.econ.throughput import EstimatorThroughput
from rigshift.estimate import Hardware, Workload
from rigshift.measure.calibrate import toolkit_for

FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()


def _db_with_rx570(tmp_path: Path) -> str:
    db = str(tmp_path / "m.db")
    result = runner.invoke(
        app,
        ["bench", "import", str(FIXTURES / "vulkan_rx570_published.md"), "--gpu", "RX 570 8GB", "--db", db],
    )
    assert result.exit_code == 0, result.output
    return db


def _rx570_confidence(output: str) -> set[tuple[str, bool]]:
    summary = json.loads(output)["summary"]
    return {
        (r["confidence"].split(" ")[0], r["uncalibrated"])
        for r in summary["by_card_model"]
        if r["gpu_model"] == "radeon-rx-570-8gb"
    }


def test_assess_uses_measurements_by_default(tmp_path):
    db = _db_with_rx570(tmp_path)
    args = ["assess", "--demo", "--scale", "300", "--json", "--db", db]
    with_rows = runner.invoke(app, args)
    assert with_rows.exit_code == 0, with_rows.output
    assert _rx570_confidence(with_rows.stdout) == {("calibrated", False)}
    without = runner.invoke(app, [*args, "--no-measurements"])
    # without measurements every figure is a prior: uncalibrated, though the class has published rows
    assert _rx570_confidence(without.stdout) == {("prior:", True)}


def test_econ_and_plan_run_on_the_calibrated_toolkit(tmp_path):
    db = _db_with_rx570(tmp_path)
    rx570 = gpu_catalog().get("radeon-rx-570-8gb")
    price = ModelClassPrice.model_validate(
        {
            "name": "3b",
            "model": "llama-3.2-3b",
            "quant": "Q4_0",
            "usd_per_m_input": 0.05,
            "usd_per_m_output": 0.1,
        }
    )
    ai = AiInputs()
    calibrated = EstimatorThroughput(toolkit_for(db)).rate(rx570, 1, None, price, ai)
    prior = EstimatorThroughput(toolkit_for(db, use_measurements=False)).rate(rx570, 1, None, price, ai)
    assert calibrated is not None and prior is not None and calibrated != prior
    # plan asks the same toolkit (`tools=`): its estimates carry the measurement's provenance
    workload = Workload(load_model("llama-3.2-3b"), "Q4_0", 2048)
    hardware = Hardware.of(rx570)
    assert toolkit_for(db).estimate(workload, hardware).provenance.decode != "prior"
    assert toolkit_for(db, use_measurements=False).estimate(workload, hardware).provenance.decode == "prior"
