"""Issue 16: assess, econ, plan, energy simulate and the server (`rigshift server --prices --demand`:
/admin/overview, /admin/decision) give the same `decision` for the same fleet, --prices and --demand.

Each command runs as the CLI runs it, with the decision cache emptied before each, so the
agreement is recomputation's, not the cache's. On the demo farm, the example fleets and
hypothesis-generated fleets.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from process_helpers import wait_for_output
from rigshift.cli.app import app
from rigshift.decision import compute
from rigshift.decision.service import read_decision_files
from rigshift.fleet.demo import demo_fleet
from rigshift.fleet.importer import import_files
from rigshift.fleet.model import Fleet, Gpu, PcieState, Rig, Site
from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.fleet_source import FleetSource
from rigshift.server.serving import free_port, serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.keys import KeyStore
from waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
POWER = ROOT / "examples" / "prices" / "plain_hourly.csv"
FLAT = ROOT / "examples" / "prices" / "flat.yaml"
ECON_DEMAND = ROOT / "examples" / "prices" / "econ-demand.yaml"
PLAN_DEMAND = ROOT / "examples" / "demand" / "chat-and-rag.yaml"
runner = CliRunner()


def _decision(args: list[str]) -> dict:  # type: ignore[type-arg]
    compute._CACHE.clear()  # recomputed, not read back
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 3), result.output  # 3: plan could not place some demand
    text = result.stdout
    return json.loads(text[: text.rindex("}") + 1])["decision"]


def decisions(
    fleet: Path, prices: Path | None = None, demand: Path | None = None, sweeps: bool = False
) -> dict[str, dict]:  # type: ignore[type-arg]
    econ = ["--prices", str(prices)] if prices else []
    asked = ["--demand", str(demand)] if demand else []
    return {
        "assess": _decision(["assess", str(fleet), "--json", *econ, *asked]),
        "econ": _decision(
            ["econ", str(fleet), "--json", *([] if sweeps else ["--no-sensitivity"]), *econ, *asked]
        ),
        "plan": _decision(["plan", str(fleet), "--json", *econ, *asked]),
        "energy": _decision(
            [
                "energy",
                "simulate",
                str(fleet),
                "--prices",
                str(POWER),
                "--json",
                *(["--econ-prices", str(prices)] if prices else []),
                *(["--econ-demand", str(demand)] if demand else []),
            ]
        ),
    }


def assert_identical(found: dict[str, dict]) -> dict:  # type: ignore[type-arg]
    first = found["assess"]
    for view, decision in found.items():
        assert decision == first, f"{view}'s decision differs from assess's"
    f = first["funnel"]
    assert f["gpus"] >= f["capable"] >= f["hostable"] >= f["viable"] >= f["converted"] >= f["placed"] >= 0
    assert len(first["converted_gpu_ids"]) == f["converted"]
    assert set(first["monthly_net_usd"]) == {"now", "after"} and first["inputs_digest"].startswith("sha256:")
    return first


def _write(fleet: Fleet, tmp_path: Path) -> Path:
    path = tmp_path / "fleet.json"
    path.write_text(fleet.model_dump_json())
    return path


def test_the_demo_farm_gets_one_decision_in_every_view(tmp_path: Path) -> None:
    path = _write(demo_fleet(), tmp_path)
    decision = assert_identical(decisions(path, sweeps=True))  # econ's sweeps change no decision
    # The same answer the published figure is read against: far fewer than the 76.5% "AI-ready" cards.
    assert decision["funnel"]["gpus"] == 2000
    assert decision["funnel"]["hostable"] < decision["funnel"]["capable"]
    assert decision["published"]["source"].startswith("https://")
    assert decision["largest_drop"]["step"] in {"capable", "hostable", "viable", "converted", "placed"}


def test_every_view_takes_demo_and_prints_the_demo_farms_decision(tmp_path: Path) -> None:
    """`--demo` (the bundled farm) on every view: the same decision as the demo farm's fleet file
    (plan had no --demo; energy simulate needs its price series in any case)."""
    path = _write(demo_fleet(), tmp_path)
    from_file = _decision(["assess", str(path), "--json"])
    assert (
        assert_identical(
            {
                "assess": _decision(["assess", "--demo", "--json"]),
                "econ": _decision(["econ", "--demo", "--json", "--no-sensitivity"]),
                "plan": _decision(["plan", "--demo", "--json"]),
                "energy": _decision(["energy", "simulate", "--demo", "--prices", str(POWER), "--json"]),
            }
        )
        == from_file
    )


# (example fleet, --prices, --demand): files that change the decision from the defaults'.
EXAMPLES_WITH_FILES = [
    ("farm_2sites_3rigs_mixed.yaml", FLAT, ECON_DEMAND),
    ("rig_6x3060-12g_x1.yaml", FLAT, PLAN_DEMAND),
    ("hiveos_farm_2workers.json", None, ECON_DEMAND),
]


@pytest.mark.parametrize(
    ("name", "prices", "demand"), [("farm_2sites_3rigs_mixed.yaml", None, None), *EXAMPLES_WITH_FILES]
)
def test_example_fleets_get_one_decision_in_every_view(
    name: str, prices: Path | None, demand: Path | None, tmp_path: Path
) -> None:
    fleet = import_files([ROOT / "examples" / "fleet" / name]).fleet
    assert_identical(decisions(_write(fleet, tmp_path), prices, demand))


CARDS = (
    ("geforce-rtx-3060-12gb", 12.0),
    ("geforce-rtx-3080-10gb", 10.0),
    ("radeon-rx-580-8gb", 8.0),
    ("p104-100", 8.0),
)


@st.composite
def fleets(draw: st.DrawFn) -> Fleet:
    rigs = []
    for i in range(draw(st.integers(1, 3))):
        key, vram = draw(st.sampled_from(CARDS))
        miner = draw(st.booleans())
        rigs.append(
            Rig(
                name=f"r{i}",
                site=draw(st.sampled_from(["a", "b"])),
                cpu_cores=draw(st.sampled_from([None, 2, 8])),
                ram_gib=draw(st.sampled_from([None, 4.0, 16.0])),
                gpus=[
                    Gpu(
                        model=key,
                        vram_gib=vram,
                        index=j,
                        pcie=PcieState(gen=1, width=1),
                        miner_running=miner,
                        vram_used_by_others_gib=3.9 if miner else 0.0,
                    )
                    for j in range(draw(st.integers(1, 6)))
                ],
            )
        )
    return Fleet(name="gen", sites=[Site(name="a"), Site(name="b")], rigs=rigs)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fleet=fleets(), demand=st.sampled_from([None, ECON_DEMAND]))
def test_generated_fleets_get_one_decision_in_every_view(
    fleet: Fleet, demand: Path | None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert_identical(decisions(_write(fleet, tmp_path_factory.mktemp("gen")), FLAT, demand))


# ---------------------------------------------------------------------------------- the server
# `rigshift server --fleet F --prices P --demand D`: its `/admin/overview` and `/admin/decision` carry
# the decision the CLI prints for the same files (the server used to decide on the defaults alone).


def _served_decisions(
    fleet: Path, prices: Path | None, demand: Path | None, tmp_path: Path, **what: float
) -> dict[str, dict]:  # type: ignore[type-arg]
    """The server's decision for these files: the Overview's (computed in the background) and
    `/admin/decision`'s (with `what`, a what-if, when given)."""
    engine = open_engine(str(tmp_path / "server.db"))
    _key, admin = KeyStore(engine).create("admin", now=time.time(), admin=True)
    source = FleetSource.from_file(fleet, read_decision_files(prices, demand))
    compute._CACHE.clear()
    server = serve_in_thread(create_app(StaticDirectory([]), ServerSettings(), engine=engine, fleet=source))
    try:
        client = httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {admin}"}, timeout=120)
        overview: dict = {}  # type: ignore[type-arg]

        def decided() -> bool:
            overview.update(client.get("/admin/overview").json())
            return overview["decision"] is not None

        wait_until(decided, "the server's decision", timeout_s=120, poll_s=0.2)
        asked = client.get("/admin/decision", params=what).json()["decision"]
        return {"overview": overview["decision"], "admin/decision": asked}
    finally:
        server.stop()
        engine.dispose()


@pytest.mark.parametrize(("name", "prices", "demand"), EXAMPLES_WITH_FILES)
def test_the_server_decides_on_the_prices_and_demand_it_was_given(
    name: str, prices: Path | None, demand: Path | None, tmp_path: Path
) -> None:
    path = _write(import_files([ROOT / "examples" / "fleet" / name]).fleet, tmp_path)
    decision = assert_identical(
        {**decisions(path, prices, demand), **_served_decisions(path, prices, demand, tmp_path)}
    )
    compute._CACHE.clear()
    defaults = _decision(["assess", str(path), "--json"])
    assert decision["inputs_digest"] != defaults["inputs_digest"]  # the files did change the decision


def test_the_servers_what_if_starts_from_the_prices_and_demand_it_was_given(tmp_path: Path) -> None:
    path = _write(
        import_files([ROOT / "examples" / "fleet" / "farm_2sites_3rigs_mixed.yaml"]).fleet, tmp_path
    )
    served = _served_decisions(path, FLAT, ECON_DEMAND, tmp_path, max_ttft_s=6.0)["admin/decision"]
    cli = _decision(
        [
            "assess",
            str(path),
            "--json",
            "--prices",
            str(FLAT),
            "--demand",
            str(ECON_DEMAND),
            "--max-ttft",
            "6",
        ]
    )
    assert served == cli


def test_a_bad_prices_file_stops_the_server_start_with_its_own_error(tmp_path: Path) -> None:
    fleet = _write(demo_fleet(scale=20), tmp_path)
    bad = tmp_path / "prices.yaml"
    bad.write_text("power: {usd_per_kwh: -3}\n")
    db = tmp_path / "r.db"
    result = runner.invoke(
        app,
        ["server", "--no-ray", "--db", str(db), "--fleet", str(fleet), "--prices", str(bad), "--port", "1"],
    )
    assert result.exit_code == 2, result.output
    assert "prices.yaml" in result.output and "Traceback" not in result.output
    assert not db.exists() or not KeyStore(open_engine(str(db))).list()  # no admin key used up


@pytest.mark.slow  # a real `rigshift server` process, ~15 s
def test_rigshift_server_with_prices_and_demand_serves_the_clis_decision(tmp_path: Path) -> None:
    fleet = _write(
        import_files([ROOT / "examples" / "fleet" / "farm_2sites_3rigs_mixed.yaml"]).fleet, tmp_path
    )
    port = free_port()
    log = tmp_path / "server.log"
    command = [
        sys.executable, "-m", "rigshift.cli.app", "server", "--no-ray", "--port", str(port),
        "--db", str(tmp_path / "r.db"), "--fleet", str(fleet),
        "--prices", str(FLAT), "--demand", str(ECON_DEMAND),
    ]  # fmt: skip
    proc = subprocess.Popen(
        command,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        secret = wait_for_output(proc, log, {"key": r"admin key \(shown once\): (\S+)"}, 120)["key"]
        headers = {"authorization": f"Bearer {secret}"}
        url = f"http://127.0.0.1:{port}/admin/overview"
        found: dict = {}  # type: ignore[type-arg]

        def decided() -> bool:
            found.update(httpx.get(url, headers=headers, timeout=10).json())
            return found["decision"] is not None

        wait_until(decided, "the server's decision", timeout_s=120, poll_s=0.3, ignore=(httpx.HTTPError,))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    cli = _decision(["assess", str(fleet), "--json", "--prices", str(FLAT), "--demand", str(ECON_DEMAND)])
    assert found["decision"] == cli


def test_prices_without_a_fleet_are_refused_not_ignored(tmp_path: Path) -> None:
    result = runner.invoke(app, ["server", "--no-ray", "--db", str(tmp_path / "r.db"), "--prices", str(FLAT)])
    assert result.exit_code == 2, result.output
    assert "--fleet" in result.output and "Traceback" not in result.output
