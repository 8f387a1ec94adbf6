"""Measurements stored in the fleet file (`bench --fleet`) and read back by the fleet's readers."""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import rigshift.measure.service as service
from rigshift.cli.app import app
from rigshift.errors import InputError
from rigshift.fleet.model import Fleet, Gpu, Rig, Site
from rigshift.fleet.store import load_fleet, save_fleet
from rigshift.measure.calibrate import load_calibration
from rigshift.measure.fleet_file import add_to_fleet_file, fleet_measurements
from rigshift.measure.types import Measurement

FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()


def _fleet(path: Path) -> Fleet:
    fleet = Fleet(
        name="farm",
        sites=[Site(name="tx", power_price_usd_kwh=0.04)],
        rigs=[
            Rig(
                name="rig-1",
                site="tx",
                ram_gib=16,
                gpus=[Gpu(model="radeon-rx-570-8gb", vram_gib=8, bus_id="0000:03:00.0", power_draw_w=90)],
            )
        ],
    )
    save_fleet(fleet, path)
    return fleet


def _estimate(db: str, fleet: Path | None, *extra: str) -> dict:
    args = [
        "estimate", "--gpu", "RX 570 8GB", "--model", "llama-3.1-8b", "--quant", "Q4_0", "--runtime",
        "llama.cpp-vulkan", "--prompt", "512", "--db", db, "--json", *extra,
    ]  # fmt: skip
    if fleet is not None:
        args += ["--fleet", str(fleet)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_bench_import_into_the_fleet_file_round_trips_and_the_estimate_says_measured(tmp_path, suffix):
    path = tmp_path / f"fleet{suffix}"
    before = _fleet(path)
    empty_db = str(tmp_path / "empty.db")  # the rows must come from the fleet file alone
    assert _estimate(empty_db, path)["provenance"]["decode"] == "prior"

    args = ["bench", "import", str(FIXTURES / "vulkan_rx570_published.md"), "--gpu", "RX 570 8GB"]
    result = runner.invoke(app, [*args, "--db", str(tmp_path / "a.db"), "--fleet", str(path)])
    assert result.exit_code == 0, result.output
    after = load_fleet(path)
    assert after.rigs == before.rigs and after.sites == before.sites and after.name == before.name
    rows = fleet_measurements(after)
    assert sorted((m.test, m.tokens_per_s, m.card_key, m.runtime) for m in rows) == [
        ("pp512", 152.31, "radeon-rx-570-8gb", "llama.cpp-vulkan"),
        ("tg128", 14.02, "radeon-rx-570-8gb", "llama.cpp-vulkan"),
    ]
    assert {m.runtime_build for m in rows} == {"e598697d (4696)"}

    again = runner.invoke(app, [*args, "--db", str(tmp_path / "b.db"), "--fleet", str(path)])
    assert again.exit_code == 0, again.output
    assert len(load_fleet(path).measurements) == 2  # the same rows are not added twice

    measured = _estimate(empty_db, path)
    assert measured["provenance"]["decode"] == "measured"
    assert measured["provenance"]["prefill"] == "measured"
    assert not Path(empty_db).exists()
    assert _estimate(empty_db, path, "--no-measurements")["provenance"]["decode"] == "prior"


def test_assess_on_the_fleet_file_uses_its_measurements(tmp_path):
    path = tmp_path / "fleet.yaml"
    _fleet(path)
    empty_db = str(tmp_path / "empty.db")

    def confidence() -> set[str]:
        result = runner.invoke(app, ["assess", str(path), "--json", "--db", empty_db])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)["summary"]
        return {r["confidence"].split(" ")[0] for r in summary["by_card_model"]}

    assert confidence() == {"prior:"}
    imported = runner.invoke(
        app,
        ["bench", "import", str(FIXTURES / "vulkan_rx570_published.md"), "--gpu", "RX 570 8GB",
         "--db", str(tmp_path / "a.db"), "--fleet", str(path)],
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output
    assert confidence() == {"calibrated"}


def test_a_row_in_both_the_database_and_the_fleet_file_counts_once(tmp_path):
    path = tmp_path / "fleet.yaml"
    _fleet(path)
    db = str(tmp_path / "a.db")
    args = ["bench", "import", str(FIXTURES / "vulkan_rx570_published.md"), "--gpu", "RX 570 8GB"]
    assert runner.invoke(app, [*args, "--db", db, "--fleet", str(path)]).exit_code == 0
    both = load_calibration(db, load_fleet(path))
    assert len(both.rows) == len(load_calibration(db).rows) == 2


def test_bench_with_fleet_stores_the_measured_rows_there(tmp_path, monkeypatch):
    """`rigshift bench --fleet` (llama-bench faked at the seam: the real loop is the slow e2e test)."""
    path = tmp_path / "fleet.json"
    _fleet(path)
    row = Measurement(
        card_key="radeon-rx-570-8gb", card_name="AMD Radeon RX 570 Series (RADV POLARIS10)",
        runtime="llama.cpp-vulkan", model_key="llama-3.2-1b", quant="Q4_0", n_prompt=0, n_gen=128,
        tokens_per_s=41.5, stddev_tokens_per_s=0.3, driver="Mesa 24.2", runtime_build="b6000 (6000)",
        power_limit_w=120.0, pcie_link="Gen3 x16", gpu_memory_used_gib=1.1, measured_at=1.0e9,
        samples_tokens_per_s=(41.2, 41.8, 41.5),
    )  # fmt: skip
    fleet = load_fleet(path)
    fleet.rigs[0].hostname = socket.gethostname()  # this machine is rig-1 of the fleet
    save_fleet(fleet, path)
    monkeypatch.setattr(service, "run_bench", lambda *a, rig=None, **k: [replace(row, rig=rig)])
    result = runner.invoke(app, ["bench", "--db", str(tmp_path / "a.db"), "--fleet", str(path)])
    assert result.exit_code == 0, result.output
    (stored,) = fleet_measurements(load_fleet(path))
    assert stored.rig == "rig-1"
    assert stored == replace(row, rig="rig-1")  # every field, the repetitions' rates included
    assert len(load_calibration(str(tmp_path / "a.db"), load_fleet(path)).rows) == 1  # counted once
    assert (stored.driver, stored.runtime_build, stored.power_limit_w, stored.pcie_link) == (
        "Mesa 24.2", "b6000 (6000)", 120.0, "Gen3 x16",
    )  # fmt: skip
    assert stored.card_name == row.card_name and stored.tokens_per_s == 41.5


def test_bench_refuses_a_bad_fleet_file_before_measuring(tmp_path, monkeypatch):
    path = tmp_path / "fleet.json"
    path.write_text('{"name": "farm", "rigs": [}')
    monkeypatch.setattr(service, "run_bench", lambda *a, **k: pytest.fail("benched anyway"))
    result = runner.invoke(app, ["bench", "--db", str(tmp_path / "a.db"), "--fleet", str(path)])
    assert result.exit_code == 2
    assert "fleet.json" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "a.db").exists()


BAD_SECTION = """\
name: farm
sites:
- name: tx
rigs:
- name: rig-1
  site: tx
  gpus:
  - model: radeon-rx-570-8gb
    vram_gib: 8
measurements:
- card_key: radeon-rx-570-8gb
  runtime: llama.cpp-vulkan
  model_key: llama-3.1-8b
  quant: Q4_0
  n_prompt: 0
  n_gen: 128
  tokens_per_s: 14.02
- card_key: radeon-rx-570-8gb
  runtime: llama.cpp-vulkan
  model_key: lama-3.1-8b
  quant: Q4_0
  n_prompt: 0
  n_gen: 128
  tokens_per_s: 14.02
"""


def test_an_unknown_model_in_the_section_names_file_line_field_and_a_suggestion(tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(BAD_SECTION)
    with pytest.raises(InputError) as caught:
        load_fleet(path)
    (problem,) = caught.value.problems
    assert problem.source == str(path) and problem.field == "model_key"
    assert problem.location == "line 20, $.measurements[1].model_key"
    assert "llama-3.1-8b" in problem.suggestions
    result = runner.invoke(app, ["assess", str(path), "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 2
    assert f"{path}:line 20, $.measurements[1].model_key" in result.output


@pytest.mark.parametrize(
    ("edit", "line", "field"),
    [
        (("tokens_per_s: 14.02", "tokens_per_s: -3"), 17, "tokens_per_s"),
        (("runtime: llama.cpp-vulkan", "runtime: vulkan"), 12, "runtime"),
        (("card_key: radeon-rx-570-8gb", "card_key: rx-570"), 11, "card_key"),
        (("n_gen: 128", "n_gen: 0"), 15, "n_prompt"),
        (("quant: Q4_0", "quant: Q4_Z"), 14, "quant"),
        (("tokens_per_s: 14.02", "tokens_per_s: 14.02\n  tokens_per_sec: 3"), 18, "tokens_per_sec"),
    ],
)
def test_bad_values_in_the_section_are_located_and_nothing_is_written(tmp_path, edit, line, field):
    path = tmp_path / "fleet.yaml"
    old, new = edit
    text = BAD_SECTION.replace("model_key: lama-", "model_key: llama-").replace(old, new, 1)
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_fleet(path)
    assert [(p.location, p.field) for p in caught.value.problems] == [
        (f"line {line}, $.measurements[0].{field}", field)
    ]
    db = tmp_path / "a.db"
    args = ["bench", "import", str(FIXTURES / "vulkan_rx570_published.md"), "--gpu", "RX 570 8GB"]
    result = runner.invoke(app, [*args, "--db", str(db), "--fleet", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert path.read_text() == text  # nothing written to the fleet file
    assert not db.exists()  # nor to the database


def test_a_fleet_without_measurements_is_written_as_before(tmp_path):
    path = tmp_path / "fleet.yaml"
    _fleet(path)
    assert "measurements" not in yaml.safe_load(path.read_text())
    assert add_to_fleet_file(path, []) == 0
    assert "measurements" not in path.read_text()


def test_fleet_import_of_a_fleet_file_keeps_its_measurements_once(tmp_path):
    path = tmp_path / "fleet.yaml"
    _fleet(path)
    args = ["bench", "import", str(FIXTURES / "vulkan_rx570_published.md"), "--gpu", "RX 570 8GB"]
    assert runner.invoke(app, [*args, "--db", str(tmp_path / "a.db"), "--fleet", str(path)]).exit_code == 0
    out = tmp_path / "merged.json"
    result = runner.invoke(
        app, ["fleet", "import", str(path), str(path), "--format", "fleet", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert load_fleet(out).measurements == load_fleet(path).measurements


def test_a_bad_entry_in_a_json_fleet_file_is_located_by_its_json_path(tmp_path):
    path = tmp_path / "fleet.json"
    _fleet(path)
    data = json.loads(path.read_text())
    data["measurements"] = [
        {"card_key": "radeon-rx-570-8gb", "runtime": "llama.cpp-vulkan", "model_key": "llama-3.1-8b",
         "quant": "Q4_0", "n_prompt": 0, "n_gen": 128, "tokens_per_s": "fast"},
    ]  # fmt: skip
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as caught:
        load_fleet(path)
    assert [(p.location, p.field) for p in caught.value.problems] == [
        ("$.measurements[0].tokens_per_s", "tokens_per_s")
    ]
