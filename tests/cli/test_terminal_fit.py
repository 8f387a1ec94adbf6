"""Terminal output that fits (issue 10, item 7): 80 and 120 columns, pipes, --json everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rigshift.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fit") / "fleet.json"
    result = runner.invoke(
        app, ["fleet", "import", str(ROOT / "examples/fleet/hiveos_farm_2workers.json"), "-o", str(path)]
    )
    assert result.exit_code == 0, result.output
    return path


def _commands(fleet: Path) -> dict[str, list[str]]:
    return {
        "gpus": ["gpus", "--mining-only"],
        "models": ["models"],
        "fleet show": ["fleet", "show", str(fleet)],
        "assess": ["assess", str(fleet)],
        "plan": ["plan", str(fleet), str(ROOT / "examples/demand/small-test.yaml")],
        "estimate": [
            "estimate",
            "--gpu",
            "RTX 3060",
            "--gpus",
            "6",
            "--pcie",
            "gen1x1",
            "--model",
            "llama-3.1-70b",
        ],
    }


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("command", ["gpus", "models", "fleet show", "assess", "plan", "estimate"])
def test_every_table_fits_the_width(command: str, columns: int, fleet_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    result = runner.invoke(app, _commands(fleet_file)[command])
    assert result.exit_code == 0, result.output
    too_wide = [line for line in result.output.splitlines() if len(line) > columns]
    assert not too_wide, "\n".join(too_wide)
    assert "…" not in result.output  # nothing cut with an ellipsis


@pytest.mark.parametrize("columns", [80, 120])
def test_names_the_user_needs_are_whole_at_any_width(columns: int, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    out = runner.invoke(app, ["models"]).output
    for key in ("llama-3.1-8b", "qwen2.5-14b", "nomic-embed-text-v1.5"):
        assert any(line.split()[:1] == [key] for line in out.splitlines()), key


def test_a_pipe_gets_one_row_per_line(monkeypatch) -> None:
    """`rigshift models | cat` printed one word per line: on a pipe nothing wraps or drops."""
    monkeypatch.delenv("COLUMNS", raising=False)
    out = runner.invoke(app, ["models"]).output
    row = next(line for line in out.splitlines() if line.startswith("llama-3.2-1b"))
    assert "Llama 3.2 1B Instruct" in row and "131072" in row
    assert not any(line.strip() in ("Instru", "ct", "Instruct") for line in out.splitlines())


@pytest.mark.parametrize("command", ["gpus", "models", "fleet show", "assess", "plan", "estimate"])
def test_json_everywhere(command: str, fleet_file: Path) -> None:
    result = runner.invoke(app, [*_commands(fleet_file)[command], "--json"])
    assert result.exit_code == 0, result.output
    json.loads(result.output)


def test_json_from_commands_that_write_files(fleet_file: Path, tmp_path: Path) -> None:
    inventory = str(ROOT / "examples/fleet/hiveos_farm_2workers.json")
    imported = runner.invoke(app, ["fleet", "import", inventory, "-o", str(tmp_path / "f.json"), "--json"])
    assert imported.exit_code == 0 and json.loads(imported.output)["gpus"] == 10
    demo = runner.invoke(app, ["fleet", "demo", "-o", str(tmp_path / "d.json"), "--scale", "20", "--json"])
    assert demo.exit_code == 0 and json.loads(demo.output)["gpus"] >= 1
    demand = str(ROOT / "examples/demand/small-test.yaml")
    deploy = runner.invoke(app, ["deploy", demand, "--fleet", str(fleet_file), "--json"])
    assert deploy.exit_code == 0, deploy.output
    assert {s["deployment"] for s in json.loads(deploy.output)} == {"chat"}


def test_an_unknown_vendor_is_an_error_with_a_suggestion() -> None:
    result = runner.invoke(app, ["gpus", "--vendor", "nvidai"])
    assert result.exit_code == 2 and "did you mean: nvidia" in result.output


def test_estimate_reads_8k_and_a_bare_x1() -> None:
    base = ["estimate", "--gpu", "RTX 3060 12GB", "--model", "llama-3.1-8b", "--json"]
    short = json.loads(runner.invoke(app, [*base, "--context", "8k", "--pcie", "x1"]).output)
    long = json.loads(runner.invoke(app, [*base, "--context", "8192", "--pcie", "gen4x1"]).output)
    assert short == long and short["context"] == 8192
    spelled = runner.invoke(app, [*base, "--pcie", "PCIe 3.0 x16"])
    assert spelled.exit_code == 0, spelled.output
    bad = runner.invoke(app, [*base, "--context", "8q"])
    assert bad.exit_code == 2 and "8k" in bad.output


# --- econ, usage and keys (issue 10 item 7: the tables that printed at a fixed 160 columns or cut cells)


@pytest.fixture(scope="module")
def econ_outputs() -> dict[str, str]:
    """`econ --demo` once per width (it takes seconds): 80 and 120 columns, and a pipe."""
    outputs = {}
    with pytest.MonkeyPatch.context() as mp:
        for columns in ("80", "120", ""):
            if columns:
                mp.setenv("COLUMNS", columns)
            else:
                mp.delenv("COLUMNS", raising=False)
            result = runner.invoke(app, ["econ", "--demo"])
            assert result.exit_code == 0, result.output
            outputs[columns or "pipe"] = result.output
    return outputs


def _too_wide(output: str, columns: int) -> list[str]:
    return [line for line in output.splitlines() if len(line) > columns]


@pytest.mark.parametrize("columns", [80, 120])
def test_econ_fits_the_width_with_class_names_and_verdicts_whole(
    columns: int, econ_outputs: dict[str, str]
) -> None:
    out = econ_outputs[str(columns)]
    assert not _too_wide(out, columns), "\n".join(_too_wide(out, columns))
    assert "…" not in out
    lines = out.splitlines()
    # Every card class row holds its whole name and its verdict on one line.
    for name in ("NVIDIA GeForce RTX 3060 12 GB @ tx-ercot", "AMD Radeon RX Vega 64 @ no-hydro"):
        row = next(line for line in lines if line.startswith(name))
        assert {"mine", "rent", "infer", "sell", "replace", "idle"} & set(row.split()), row
    # What was left out is said, and where to find it.
    assert "not shown at 80 columns: break-even" in out.replace("\n", " ") or columns == 120
    assert "--json and --html have every field" in out.replace("\n", " ") or columns == 120
    assert "as of n/a" not in out


def test_econ_on_a_pipe_keeps_every_column_and_one_row_per_line(econ_outputs: dict[str, str]) -> None:
    out = econ_outputs["pipe"]
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("class ") and "break-even util." in line)
    assert "break-even $/kWh mine / AI" in header and "not shown" not in out
    row = next(line for line in lines if line.startswith("NVIDIA GeForce RTX 3060 12 GB @ tx-ercot"))
    assert "$0.035" in row and "%" in row  # power price and break-even utilisation on the same line
    # Sensitivity cells keep the figure and the plan on one line; the plan steps are not wrapped.
    sens = next(line for line in lines if line.lstrip().startswith("$0.039"))
    assert "sell" in sens
    assert any(line.startswith("tx-ercot: sell") and line.rstrip().endswith("at once") for line in lines)
    assert "as of n/a" not in out
    # Nothing is padded out to the pipe's unlimited width.
    assert max(len(line) - len(line.rstrip()) for line in lines) < 200


def test_demand_without_a_date_says_nothing_of_one() -> None:
    from rigshift.econ.render import as_of_text, dated

    assert dated("n/a") is None and dated(None) is None and dated("2026-11") == "2026-11"
    assert as_of_text("n/a") == "undated" and as_of_text("2026-11") == "as of 2026-11"


@pytest.fixture
def server_db(tmp_path: Path) -> str:
    import time

    from rigshift.server.db import open_engine
    from rigshift.server.stores.keys import KeyStore
    from rigshift.server.stores.usage import UsageRecord, UsageStore

    db = str(tmp_path / "fit.db")
    engine = open_engine(db)
    keys = KeyStore(engine)
    now = time.time()
    long_name = "acme-corporation-production-inference-tenant"
    keys.create(long_name, now=now, allowed_models=["llama-3.1-8b", "qwen2.5-32b", "llama-3.3-70b"])
    keys.create("bob", now=now, admin=True)
    UsageStore(engine).insert_many(
        [
            UsageRecord(
                id=f"r{i}",
                created_at=now,
                key_id="k1",
                endpoint="chat",
                model=model,
                replica_id="x",
                rig="rig-with-a-rather-long-hostname-07",
                gpus=("rig-a/0",),
                prompt_tokens=123_456,
                completion_tokens=654_321,
                duration_ms=5.0,
                energy_wh=12.345,
                status=200,
            )
            for i, model in enumerate(["meta-llama-3.1-8b-instruct-q4_k_m", "qwen2.5-coder-32b-instruct"])
        ]
    )
    return db


@pytest.mark.parametrize("columns", [80, 120])
def test_keys_list_and_usage_fit_with_ids_and_names_whole(columns: int, server_db: str, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    listed = json.loads(runner.invoke(app, ["keys", "list", "--db", server_db, "--json"]).output)
    out = runner.invoke(app, ["keys", "list", "--db", server_db]).output
    assert not _too_wide(out, columns) and "…" not in out, out
    for key in listed:
        assert any(line.split()[:2] == [key["id"], key["name"]] for line in out.splitlines()), out
    for by, names in (
        ("model", ["meta-llama-3.1-8b-instruct-q4_k_m", "qwen2.5-coder-32b-instruct"]),
        ("rig", ["rig-with-a-rather-long-hostname-07"]),
    ):
        result = runner.invoke(app, ["usage", "--by", by, "--db", server_db])
        assert result.exit_code == 0, result.output
        assert not _too_wide(result.output, columns) and "…" not in result.output, result.output
        for name in names:
            assert any(line.split()[:1] == [name] for line in result.output.splitlines()), result.output


def test_keys_and_usage_on_a_pipe_are_one_row_per_line(server_db: str, monkeypatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    out = runner.invoke(app, ["keys", "list", "--db", server_db]).output
    row = next(line for line in out.splitlines() if "acme-corporation" in line)
    assert "llama-3.1-8b, qwen2.5-32b, llama-3.3-70b" in row and "not shown" not in out
    out = runner.invoke(app, ["usage", "--by", "model", "--db", server_db]).output
    row = next(line for line in out.splitlines() if line.startswith("qwen2.5-coder-32b-instruct"))
    assert "123456" in row and "654321" in row and "12.345" in row


def test_keys_revoke_json(server_db: str) -> None:
    result = runner.invoke(app, ["keys", "revoke", "bob", "--db", server_db, "--json"])
    assert result.exit_code == 0, result.output
    revoked = json.loads(result.output)
    assert revoked["name"] == "bob" and revoked["revoked_at"] is not None
    listed = json.loads(runner.invoke(app, ["keys", "list", "--db", server_db, "--json"]).output)
    assert set(revoked) == set(next(k for k in listed if k["name"] == "bob"))
