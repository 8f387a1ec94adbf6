"""`rigshift fleet ...` end to end through the CLI (real catalog, real files)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rigshift.cli.app import app
from rigshift.fleet import store
from rigshift.fleet.sources import probe as probe_module

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["fleet", *args])


def test_import_merges_examples_and_show_summarises(tmp_path, examples):
    out = tmp_path / "fleet.json"
    result = run(
        "import",
        str(examples / "hiveos_farm_2workers.json"),
        str(examples / "rig_6x3060-12g_x1.yaml"),
        str(examples / "minerstat_2workers.json"),
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "3 rigs, 18 GPUs" in result.output
    fleet = store.load_fleet(out)
    rig = next(r for r in fleet.rigs if r.name == "rig-3060-01")
    assert len(rig.gpus) == 6 and rig.gpus[0].pcie.width == 1 and rig.gpus[0].bus_id == "0000:01:00.0"
    shown = run("show", str(out), "--json")
    assert shown.exit_code == 0
    summary = json.loads(shown.output)
    assert summary["gpus"] == 18 and summary["by_model"][0]["count"] == 8
    table = run("show", str(out))
    assert table.exit_code == 0 and "GPUs by model" in table.output and "Gen1 x1" in table.output


BAD = "site,rig,model,count,pcie\ntx,r1,RTX 3060,6,gen1x1\ntx,r2,RTX 3600,1,gen1x1\ntx,r3,RTX 3070,x,gen1x1\n"


def test_bad_import_lists_all_problems_exits_2_and_keeps_the_old_file(tmp_path):
    out = tmp_path / "fleet.json"
    good = tmp_path / "good.csv"
    good.write_text("site,rig,model,count\ntx,old,RX 580,8\n")
    assert run("import", str(good), "-o", str(out)).exit_code == 0
    before = out.read_text()
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD)
    result = run("import", str(bad), "-o", str(out))
    assert result.exit_code == 2
    assert "line 3" in result.output and "line 4" in result.output and "did you mean" in result.output
    assert "Traceback" not in result.output
    assert out.read_text() == before


def test_skip_invalid_imports_the_rest_and_lists_what_it_skipped(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD)
    out = tmp_path / "fleet.yaml"
    result = run("import", str(bad), "-o", str(out), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "skipped 2 invalid entries" in result.output and "line 3" in result.output
    fleet = store.load_fleet(out)
    assert [r.name for r in fleet.rigs] == ["r1"]
    assert out.read_text().startswith("name:")  # YAML by extension


def test_unknown_name_with_vram_is_kept_and_flagged(tmp_path):
    inv = tmp_path / "f.csv"
    inv.write_text("site,rig,model,vram_gib\ntx,r1,RTX 3600,12\n")
    out = tmp_path / "fleet.json"
    result = run("import", str(inv), "-o", str(out))
    assert (
        result.exit_code == 0
        and "unknown GPU 'RTX 3600'" in result.output
        and "did you mean" in result.output
    )
    shown = json.loads(run("show", str(out), "--json").output)
    assert shown["unresolved"][0]["reported_name"] == "RTX 3600" and shown["unresolved"][0]["did_you_mean"]


def test_usage_errors_are_one_line_and_non_zero(tmp_path):
    assert run("import").exit_code == 2
    assert run("import", "x.csv", "--format", "xml").exit_code == 2
    assert run("import", "--farm-id", "3").exit_code == 2
    missing = run("show", str(tmp_path / "none.json"))
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_probe_without_gpus_says_so_and_exits_5(monkeypatch):
    monkeypatch.setattr(probe_module, "probe_nvidia", lambda nvml=None: ([], "NVML unavailable: no driver"))
    monkeypatch.setattr(
        probe_module, "probe_amd", lambda amdsmi=None, run=None: ([], "rocm-smi is not on PATH")
    )
    result = run("probe")
    assert result.exit_code == 5
    assert "no GPU found on this machine" in result.output and "NVML unavailable" in result.output


def test_probe_on_this_machine_never_tracebacks():
    """The real libraries: on a machine without GPUs (CI) the probe says so; with GPUs it lists them."""
    result = run("probe", "--json")
    assert result.exit_code in (0, 5), result.output
    if result.exit_code == 5:
        assert "no GPU found" in result.output
    else:
        assert json.loads(result.output)["rigs"][0]["gpus"]


def test_demo_command_writes_a_loadable_fleet(tmp_path):
    out = tmp_path / "demo.json"
    result = run("demo", "-o", str(out), "--scale", "300")
    assert result.exit_code == 0, result.output
    assert store.load_fleet(out).gpu_count == 300


@pytest.mark.parametrize("command", ["import", "show", "probe", "demo"])
def test_every_command_is_documented(command):
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "fleet.md").read_text()
    assert f"rigshift fleet {command}" in doc


def test_live_hiveos_import_against_a_local_fake_server(tmp_path, examples):
    """The real httpx client over loopback HTTP: token sent, farm/workers/gpus read, fleet written."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    export = json.loads((examples / "hiveos_farm_2workers.json").read_text())
    bodies = {
        "/api/v2/farms/7": export["farm"],
        "/api/v2/farms/7/workers": export["workers"],
        "/api/v2/farms/7/workers/gpus": {"data": []},
    }
    tokens = []

    class FakeHiveOs(BaseHTTPRequestHandler):
        def do_GET(self):
            tokens.append(self.headers.get("Authorization"))
            body = bodies.get(self.path)
            payload = json.dumps(body if body is not None else {"message": "not found"}).encode()
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHiveOs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/v2"
        out = tmp_path / "fleet.json"
        result = run("import", "--hiveos-token", "tok", "--farm-id", "7", "--hiveos-url", url, "-o", str(out))
        assert result.exit_code == 0, result.output
        assert store.load_fleet(out).gpu_count == 10 and set(tokens) == {"Bearer tok"}
        wrong_farm = run(
            "import", "--hiveos-token", "tok", "--farm-id", "8", "--hiveos-url", url, "-o", str(out)
        )
        assert wrong_farm.exit_code == 2 and "--farm-id" in wrong_farm.output
    finally:
        server.shutdown()
        server.server_close()


def test_import_with_probe_adds_the_measured_link_to_the_inventory(tmp_path, monkeypatch, examples):
    card = {
        "brand": "nvidia",
        "index": 0,
        "labels": {},
        "model": "NVIDIA GeForce RTX 3060",
        "vram_gib": 12.0,
        "bus_id": "0000:01:00.0",
        "pcie": {"gen": 2, "width": 1, "max_gen": 4, "max_width": 16},
        "vram_used_by_others_gib": 0.0,
    }
    monkeypatch.setattr(probe_module, "probe_nvidia", lambda nvml=None: ([dict(card)], None))
    monkeypatch.setattr(probe_module, "probe_amd", lambda amdsmi=None, run=None: ([], "none"))
    monkeypatch.setattr(probe_module, "read_host_info", lambda: probe_module.HostInfo("rig-3060-01", None, 2))
    out = tmp_path / "fleet.json"
    result = run("import", str(examples / "hiveos_farm_2workers.json"), "--probe", "-o", str(out))
    assert result.exit_code == 0, result.output
    rig = next(r for r in store.load_fleet(out).rigs if r.name == "rig-3060-01")
    by_bus = {g.bus_id: g for g in rig.gpus}
    assert len(rig.gpus) == 6 and by_bus["0000:01:00.0"].pcie.max_width == 16  # probe: link
    assert by_bus["0000:01:00.0"].hashrate_mhs == 48.1  # HiveOS: hashrate
    assert by_bus["0000:02:00.0"].pcie is None  # a card the probe did not see keeps HiveOS's record
