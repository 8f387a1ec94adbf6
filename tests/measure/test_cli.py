"""`rigshift bench import` / `bench list` and `rigshift estimate` reading the stored rows."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rigshift.cli.app import app

FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def estimate_json(db: str, *extra: str) -> dict:
    result = run(
        "estimate", "--gpu", "RX 570 8GB", "--model", "qwen2.5-14b", "--runtime", "llama.cpp-vulkan",
        "--db", db, "--json", *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_import_then_estimate_uses_the_rows_and_says_so(tmp_path):
    db = str(tmp_path / "r.db")
    before = estimate_json(db)
    assert before["provenance"]["decode"] == "prior"
    assert not (tmp_path / "r.db").exists()  # estimating never creates a database
    result = run(
        "bench",
        "import",
        str(FIXTURES / "vulkan_rx570_published.md"),
        "--gpu",
        "RX 570 8GB",
        "--db",
        db,
        "--json",
    )
    assert result.exit_code == 0, result.output
    stored = json.loads(result.stdout)
    assert [(r["test"], r["tokens_per_s"]) for r in stored] == [("pp512", 152.31), ("tg128", 14.02)]
    after = estimate_json(db)
    assert after["provenance"]["decode"] == "calibrated" and after["provenance"]["rows"] == 1
    eight_b = run(
        "estimate", "--gpu", "RX 570 8GB", "--model", "llama-3.1-8b", "--quant", "Q4_0", "--runtime",
        "llama.cpp-vulkan", "--prompt", "64", "--db", db, "--json", "--no-measurements",
    )  # fmt: skip
    prior_8b = json.loads(eight_b.stdout)["decode_tokens_per_s"]
    # the 14B moves the way the 8B measurement says the card differs from the prior
    assert (after["decode_tokens_per_s"] / before["decode_tokens_per_s"] - 1) * (14.02 / prior_8b - 1) > 0
    low, high = after["provenance"]["interval"]
    assert low < after["decode_tokens_per_s"] < high
    assert after["provenance"]["spread_pct"] < before["provenance"]["spread_pct"]
    ignored = estimate_json(db, "--no-measurements")
    assert ignored["decode_tokens_per_s"] == before["decode_tokens_per_s"]
    table = run(
        "estimate",
        "--gpu",
        "RX 570 8GB",
        "--model",
        "qwen2.5-14b",
        "--runtime",
        "llama.cpp-vulkan",
        "--db",
        db,
    )
    assert "calibrated (1 row" in table.stdout


def test_a_bad_file_exits_2_with_file_and_line_and_stores_nothing(tmp_path):
    db = str(tmp_path / "r.db")
    bad = tmp_path / "bad.csv"
    lines = (FIXTURES / "cpu_qwen3-0.6b.csv").read_text().splitlines()
    bad.write_text("\n".join([lines[0], lines[1], lines[2].rsplit(",", 2)[0]]) + "\n")
    result = run("bench", "import", str(FIXTURES / "cpu_qwen3-0.6b.jsonl"), str(bad), "--db", db)
    assert result.exit_code == 2
    assert "bad.csv:line 3" in result.output and "Traceback" not in result.output
    listed = run("bench", "list", "--db", db, "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []


def test_unknown_runtime_flag_suggests(tmp_path):
    result = run(
        "bench", "import", str(FIXTURES / "ollama_verbose.txt"), "--gpu", "RX 580 8GB", "--model", "llama-3.1-8b",
        "--quant", "Q4_K_M", "--runtime", "llama.cpp-vulkn", "--db", str(tmp_path / "r.db"),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "llama.cpp-vulkan" in result.output


def test_dry_run_reads_without_storing(tmp_path):
    db = str(tmp_path / "r.db")
    result = run(
        "bench", "import", str(FIXTURES / "cuda_p40_published.md"), "--dry-run", "--db", db, "--json"
    )
    assert result.exit_code == 0 and len(json.loads(result.stdout)) == 2
    assert json.loads(run("bench", "list", "--db", db, "--json").stdout) == []


def test_bench_rig_goes_to_the_server_and_reports_its_refusal(tmp_path):
    from rigshift.server.app import create_app
    from rigshift.server.db import open_engine
    from rigshift.server.serving import serve_in_thread
    from rigshift.server.settings import ServerSettings
    from rigshift.server.static_directory import StaticDirectory
    from rigshift.server.stores.keys import KeyStore

    engine = open_engine(str(tmp_path / "s.db"))
    _k, admin = KeyStore(engine).create("admin", now=1.0, admin=True)
    server = serve_in_thread(create_app(StaticDirectory([]), ServerSettings(), engine=engine))
    try:
        half = run("bench", "--rig", "rig-01")
        assert half.exit_code == 2 and "--rig and --server go together" in half.output
        result = run("bench", "--rig", "rig-01", "--server", server.url, "--admin-key", admin)
        assert result.exit_code != 0
        assert "409" in result.output and "no cluster" in result.output
    finally:
        server.stop()


def test_estimating_never_migrates_a_database(tmp_path):
    """Regression: reading measurements once migrated a shared database another version owned."""
    import sqlite3

    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999_someone_else')")
    result = run("estimate", "--gpu", "RX 570 8GB", "--model", "llama-3.1-8b", "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["provenance"]["decode"] == "prior"
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {"alembic_version"}
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("9999_someone_else",)]


def test_an_impossible_rate_in_an_imported_file_is_refused_with_its_line(tmp_path):
    """Bench import stores nothing from a file whose rate no card reaches (the same roofline check
    the admin API makes): 14,020 tok/s for an RX 570's 8B decode is a mistyped 14.02."""
    db = str(tmp_path / "r.db")
    bad = tmp_path / "typo.md"
    bad.write_text(
        (FIXTURES / "vulkan_rx570_published.md").read_text().replace("14.02 ± 0.05", "14020 ± 0.05")
    )
    result = run("bench", "import", str(bad), "--db", db)
    assert result.exit_code == 2, result.output
    assert "typo.md:line 7: avg_ts:" in result.output and "roofline" in result.output
    assert "Traceback" not in result.output
    listed = run("bench", "list", "--db", db, "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []
