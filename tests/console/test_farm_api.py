"""Overview, fleet, assess, econ and plan over HTTP: the CLI's functions on the server's fleet."""

from __future__ import annotations

import time

import httpx
import pytest

from rigshift.assess import ReadinessCriteria, assess_fleet
from rigshift.decision.service import decision_for
from rigshift.fleet.demo import demo_fleet
from rigshift.run.contracts import GpuTelemetry, RigTelemetry
from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.fleet_view import HOT_GPU_C
from rigshift.server.serving import serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.keys import KeyStore

from .conftest import JOIN_TOKEN
from .helpers import Plane, bearer

SMALL_DEMAND = """
deployments:
  - name: chat
    model: llama-3.1-8b
    quant: Q4_K_M
    context: 4096
    replicas: {min: 1, max: 3}
    value: {usd_per_mtok: 0.2}
"""


def get(plane: Plane, path: str, **params: object) -> httpx.Response:
    return httpx.get(plane.url + path, params=params, headers=bearer(plane.admin_key), timeout=60)  # type: ignore[arg-type]


def test_assess_over_http_is_the_cli_assessment_of_the_server_fleet(plane: Plane):
    full = get(plane, "/admin/assess").json()
    expected = assess_fleet(demo_fleet(scale=60), ReadinessCriteria())
    assert full["summary"] == expected.summary.model_dump(mode="json")
    assert len(full["gpus"]) == expected.summary.gpus
    summary = get(plane, "/admin/assess", view="summary").json()
    assert "gpus" not in summary and len(summary["profiles"]) == len(expected.profiles)
    assert "nothing measured" in summary["provenance"]
    assert get(plane, "/admin/assess", view="nope").status_code == 400


def test_overview_returns_the_farm_decision_the_cli_prints(plane: Plane):
    # Issue 16: GET /admin/overview carries the decision `rigshift assess|econ|plan --json` print
    # for the same fleet, prices and measurements (none stored yet: the next test stores some).
    made, _ = decision_for(demo_fleet(scale=60), use_measurements=False)
    deadline = time.monotonic() + 60
    overview = get(plane, "/admin/overview").json()
    while overview["decision"] is None and time.monotonic() < deadline:  # computed in the background
        assert overview["decision_pending"] is True
        time.sleep(0.2)
        overview = get(plane, "/admin/overview").json()
    assert overview["decision"] == made.summary.model_dump(mode="json")
    assert overview["decision"]["funnel"]["gpus"] == 60


def test_stored_measurements_calibrate_the_servers_assessment_and_economics(plane: Plane):
    """A measurement posted to the server (as `rigshift bench --rig` stores one) reaches the
    console's assessment and economics at once, with its provenance: no restart, no CLI."""

    def card_classes(assessment: dict) -> list[dict]:  # type: ignore[type-arg]
        profile = next(p for p in assessment["profiles"] if p["gpu_model"] == "geforce-rtx-3060-ti")
        return [c for c in profile["classes"] if c.get("decode_tps")]

    before = get(plane, "/admin/assess").json()
    assert not any((c["provenance"] or "").startswith("measured") for c in card_classes(before))
    econ_before = get(plane, "/admin/econ").json()
    row = {
        "card_key": "geforce-rtx-3060-ti",
        "card_name": "NVIDIA GeForce RTX 3060 Ti",
        "runtime": "llama.cpp-cuda",
        "model_key": "llama-3.1-8b",
        "quant": "Q6_K",
        "n_prompt": 0,
        "n_gen": 128,
        "tokens_per_s": 31.0,
    }
    stored = httpx.post(
        plane.url + "/admin/measurements", json={"data": [row]}, headers=bearer(plane.admin_key), timeout=60
    )
    assert stored.status_code == 201, stored.text
    after = get(plane, "/admin/assess").json()
    measured = [c for c in card_classes(after) if (c["provenance"] or "").startswith("measured")]
    assert measured and all(c["decode_tps"] == pytest.approx(31.0, rel=0.02) for c in measured)
    assert (
        "calibrated by 1 stored measurement"
        in get(plane, "/admin/assess", view="summary").json()["provenance"]
    )
    assert get(plane, "/admin/econ").json() != econ_before  # priced on the measured speed


def test_econ_what_if_scales_power_and_token_prices(plane: Plane):
    base = get(plane, "/admin/econ").json()
    cell = {(c["power_factor"], c["token_factor"]): c for c in base["sensitivity"]["cells"]}[(2.0, 1.0)]
    what_if = get(plane, "/admin/econ", power_factor=2, token_factor=1).json()
    assert [c["power_factor"] for c in what_if["sensitivity"]["cells"]] == [2.0]
    assert what_if["sensitivity"]["cells"][0]["monthly_net_usd"] == pytest.approx(cell["monthly_net_usd"])
    bad = get(plane, "/admin/econ", power_factor=-1)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "power_factor"


def test_plan_over_http_places_the_demand_on_the_fleet(plane: Plane):
    response = httpx.post(
        plane.url + "/admin/plan", json={"demand": SMALL_DEMAND}, headers=bearer(plane.admin_key), timeout=60
    )
    assert response.status_code == 200, response.text
    plan = response.json()
    assert 1 <= len(plan["replicas"]) <= 3
    assert all(r["model"] == "llama-3.1-8b" for r in plan["replicas"])
    broken = httpx.post(
        plane.url + "/admin/plan", json={"demand": "deployments: [oops"}, headers=bearer(plane.admin_key)
    )
    assert broken.status_code == 400 and "YAML" in broken.json()["error"]["message"]


def test_overview_counts_the_fleet_and_alerts_on_a_hot_live_gpu(plane: Plane):
    fleet = demo_fleet(scale=60)
    rig = fleet.rigs[0]
    report = RigTelemetry(
        rig=rig.name,
        timestamp=time.time(),
        gpus=[GpuTelemetry(index=0, temperature_c=HOT_GPU_C + 5, power_w=150.0, memory_used_gib=3.0)],
    )
    posted = httpx.post(
        plane.url + "/internal/telemetry",
        content=report.model_dump_json(),
        headers=bearer(JOIN_TOKEN),
    )
    assert posted.status_code == 204
    overview = get(plane, "/admin/overview").json()
    assert overview["gpus"] == fleet.gpu_count + 0  # rig-x (the replica's rig) has no known GPUs
    assert overview["rigs"] == len(fleet.rigs) + 1
    assert sum(overview["gpu_states"].values()) == overview["gpus"]
    assert overview["gpu_states"]["mining"] == sum(1 for _, g in fleet.gpus() if g.miner_running)
    assert overview["power_sources"]["live"] == 1
    hot = [a for a in overview["alerts"] if a["kind"] == "hot_gpu"]
    assert [a["subject"] for a in hot] == [f"{rig.name}/0"]
    assert overview["replicas"] == {"ready": 1}
    rows = get(plane, "/admin/fleet").json()
    live = [g for g in rows["gpus"] if g["source"] == "live"]
    assert [(g["rig"], g["index"], g["temperature_c"]) for g in live] == [(rig.name, 0, HOT_GPU_C + 5)]


def test_without_a_fleet_the_analyses_say_how_to_configure_one(tmp_path):
    engine = open_engine(str(tmp_path / "r.db"))
    _key, admin = KeyStore(engine).create("admin", now=time.time(), admin=True)
    server = serve_in_thread(create_app(StaticDirectory([]), ServerSettings(join_token="t"), engine=engine))
    try:
        for path in ("/admin/assess", "/admin/econ"):
            response = httpx.get(server.url + path, headers=bearer(admin))
            assert response.status_code == 409 and "--fleet" in response.json()["error"]["message"]
        overview = httpx.get(server.url + "/admin/overview", headers=bearer(admin)).json()
        assert overview["gpus"] == 0 and overview["fleet_source"] is None
    finally:
        server.stop()


def test_the_console_page_and_assets_are_served_with_a_strict_csp(plane: Plane):
    page = httpx.get(plane.url + "/")
    assert page.status_code == 200 and "/console/assets/app.js" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    js = httpx.get(plane.url + "/console/assets/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    chart_library = httpx.get(plane.url + "/console/assets/vendor/uPlot.iife.min.js")
    assert chart_library.status_code == 200 and "uPlot" in chart_library.text
    for bad in (
        "../app.py",
        "..%2Fapp.py",
        "nope.js",
        "console_auth.py",
        "vendor/README.md",
        "vendor/../../app.py",
    ):
        assert httpx.get(plane.url + "/console/assets/" + bad).status_code == 404, bad
