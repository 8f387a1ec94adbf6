"""`rigshift server --energy FILE`: the loop built from a config over a fleet file and a price file."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rigshift.energy.policy import BatchJob, SiteInterval, decide
from rigshift.energy.wiring import build_energy_loop, measured_site_kw
from rigshift.errors import InputError
from rigshift.fleet.importer import read_source
from rigshift.fleet.model import Fleet
from rigshift.fleet.store import dump_fleet
from rigshift.run.contracts import GpuTelemetry
from rigshift.run.spec import ModelSource, ReplicaSpec
from rigshift.server.db import open_engine
from rigshift.server.stores.energy_events import EnergyEventStore

REPO = Path(__file__).parents[2]
DATA = Path(__file__).parent / "data"


def test_loop_from_config(tmp_path: Path) -> None:
    parsed = read_source(REPO / "examples/fleet/farm_2sites_3rigs_mixed.yaml")
    (tmp_path / "fleet.yaml").write_text(dump_fleet(parsed.fleet, yaml_format=True))
    shutil.copy(DATA / "ercot_hb_north_rt15_2024_excerpt.csv", tmp_path / "rt.csv")
    (tmp_path / "energy.yaml").write_text(
        "fleet: fleet.yaml\nsites:\n  tx-ercot:\n    prices: {file: rt.csv}\n"
    )
    specs = [
        ReplicaSpec("chat-0", "chat", "chat", ModelSource("demo", "x"), "tx-rx580-001", gpu_indices=(0,))
    ]
    held: list[str] = []
    loop, fleet = build_energy_loop(
        tmp_path / "energy.yaml",
        EnergyEventStore(open_engine(str(tmp_path / "db.sqlite"))),
        desired=lambda: specs,
        hold=lambda ids, why: held.extend(ids),
        release=lambda ids: None,
        clock=lambda: 1704088800.0 + 3600,  # an hour into the excerpt
    )
    decisions = loop.tick()
    assert set(decisions) == {"tx-ercot"}
    assert loop.snapshot()["sites"][0]["price_usd_mwh"] is not None
    caps = loop.caps_for_rig("tx-rx580-001")
    assert len(caps) == 12
    readings = [("tx-rx580-001", 0.0, GpuTelemetry(index=i, power_w=90.0)) for i in range(12)]
    assert measured_site_kw(lambda: readings, fleet, {"tx-ercot": 1.0})("tx-ercot") == pytest.approx(1.08)
    (tmp_path / "bad.yaml").write_text(
        "fleet: fleet.yaml\nsites: {tx-ercot: {prices: {file: rt.csv}, extra: 1}}\n"
    )
    with pytest.raises(InputError, match="extra"):
        build_energy_loop(tmp_path / "bad.yaml", EnergyEventStore(open_engine(str(tmp_path / "db.sqlite"))))


START = 1704088800  # 2024-01-01 06:00 UTC: the hourly price files below start here


def _no_hydro_site(
    tmp_path: Path, min_replicas: str = "", usd_mwh: Callable[[int], float] = lambda hour: 20
) -> Fleet:
    """The example farm's fleet file, six hourly prices (`usd_mwh(hour)`) and an energy config for
    its no-hydro site, written under `tmp_path`; returns the fleet."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    fleet = read_source(REPO / "examples/fleet/farm_2sites_3rigs_mixed.yaml").fleet
    (tmp_path / "fleet.yaml").write_text(dump_fleet(fleet, yaml_format=True))
    rows = ["timestamp,price_usd_per_mwh"] + [
        f"{datetime.fromtimestamp(START + h * 3600, UTC).isoformat()},{usd_mwh(h)}" for h in range(6)
    ]
    (tmp_path / "p.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "energy.yaml").write_text(
        f"fleet: fleet.yaml\n{min_replicas}sites:\n  no-hydro:\n    prices: {{file: p.csv}}\n"
    )
    return fleet


def test_replicas_above_the_minimum_are_held_in_dear_hours(tmp_path: Path) -> None:
    fleet = _no_hydro_site(tmp_path, "min_replicas: {chat: 1}\n", lambda h: 9000 if h == 2 else 20)
    rig = next(r for r in fleet.rigs if r.site == "no-hydro")
    specs = [
        ReplicaSpec(f"chat-{i}", "chat", "chat", ModelSource("demo", "x"), rig.name, gpu_indices=(i,))
        for i in range(3)
    ]
    held: set[str] = set()
    now = [START + 3600.0]
    loop, _ = build_energy_loop(
        tmp_path / "energy.yaml",
        EnergyEventStore(open_engine(str(tmp_path / "db.sqlite"))),
        desired=lambda: specs,
        hold=lambda ids, why: held.update(ids),
        release=lambda ids: held.difference_update(ids),
        clock=lambda: now[0],
    )
    loop.tick()
    assert held == set()  # $20/MWh: all three planned replicas pay
    now[0] = START + 2 * 3600.0
    loop.tick()
    assert held == {"chat-1", "chat-2"}  # $9,000/MWh: down to the SLO minimum
    now[0] = START + 3 * 3600.0
    loop.tick()
    assert held == set()


def _three_replica_loop(tmp_path: Path, min_replicas: str, served: float, backlog: list) -> tuple:  # type: ignore[type-arg]
    fleet = _no_hydro_site(tmp_path, min_replicas)
    rig = next(r for r in fleet.rigs if r.site == "no-hydro")
    specs = [
        ReplicaSpec(f"chat-{i}", "chat", "chat-model", ModelSource("demo", "x"), rig.name, gpu_indices=(i,))
        for i in range(3)
    ]
    held: set[str] = set()
    asked: list[str] = []
    store = EnergyEventStore(open_engine(str(tmp_path / "db.sqlite")))
    loop, _ = build_energy_loop(
        tmp_path / "energy.yaml",
        store,
        desired=lambda: specs,
        hold=lambda ids, why: held.update(ids),
        release=lambda ids: held.difference_update(ids),
        clock=lambda: START + 3600.0,
    )
    loop.backlog = lambda site: backlog

    def served_rate(model: str, now: float) -> float:
        asked.append(model)
        return served

    loop.served_tokens_per_s = served_rate
    return loop, held, asked, store, START + 3600.0


def test_batch_runs_on_the_spare_slots_of_the_replicas_the_gateway_sees_underused(tmp_path: Path) -> None:
    """Every planned replica is its deployment's SLO minimum, so no card is free for batch: batch
    lines may still run while the gateway serves less than the replicas can, and stop in an event."""
    job = [BatchJob("batch_1", 5e6, 1704088800 + 48 * 3600.0, 0.2)]
    loop, held, asked, store, now = _three_replica_loop(tmp_path, "", 0.0, job)
    decision = loop.tick()["no-hydro"]
    assert asked and set(asked) == {"chat-model"}  # demand is read per model the deployment serves
    assert decision.replicas["chat"] == 3
    assert decision.batch_spare_tokens_per_s > 0 and loop.batch_allowed("no-hydro")
    assert held == set()
    store.create("no-hydro", now - 1, now + 600, shed_kw=0.01, target_kw=None, now=now)
    loop.tick()
    assert not loop.batch_allowed("no-hydro")

    busy, *_ = _three_replica_loop(tmp_path / "busy", "", 1e9, job)  # the replicas are saturated
    decision = busy.tick()["no-hydro"]
    # The site's other cards hold no replica: they cannot run batch lines, so none is given batch.
    assert decision.batch_spare_tokens_per_s == 0 and decision.batch_cards == 0
    assert not busy.batch_allowed("no-hydro")


def test_cards_the_policy_gives_to_batch_keep_their_replicas_up(tmp_path: Path) -> None:
    job = [BatchJob("batch_1", 5e9, 1704088800 + 6 * 3600.0, 0.2)]
    loop, held, _, _, _ = _three_replica_loop(tmp_path, "min_replicas: {chat: 1}\n", 0.0, job)
    decision = loop.tick()["no-hydro"]
    assert decision.replicas["chat"] == 1 and decision.batch_cards >= 2
    assert held == set()  # batch lines run on the replicas of those cards
    idle, held_idle, *_ = _three_replica_loop(tmp_path / "idle", "min_replicas: {chat: 1}\n", 0.0, [])
    idle.tick()
    assert held_idle == {"chat-1", "chat-2"}  # no demand, no backlog: down to the minimum


def test_a_site_with_no_planned_replica_gives_batch_no_card(tmp_path: Path) -> None:
    """Batch lines run on replicas: where the plan put none, the loop gives batch no card (its
    converted cards idle), where the simulator, which has no plan, would give it every free card."""
    fleet = _no_hydro_site(tmp_path)
    elsewhere = next(r for r in fleet.rigs if r.site != "no-hydro")
    specs = [
        ReplicaSpec("chat-0", "chat", "chat", ModelSource("demo", "x"), elsewhere.name, gpu_indices=(0,))
    ]
    now = START + 3600.0
    loop, _ = build_energy_loop(
        tmp_path / "energy.yaml",
        EnergyEventStore(open_engine(str(tmp_path / "db.sqlite"))),
        desired=lambda: specs,
        hold=lambda ids, why: None,
        release=lambda ids: None,
        clock=lambda: now,
    )
    jobs = [BatchJob("batch_1", 5e9, now + 2 * 3600, 0.2)]  # due soon: it must run now
    loop.backlog = lambda site: jobs
    decision = loop.tick()["no-hydro"]
    assert decision.batch_cards == 0 and decision.replicas == {}
    assert not loop.batch_allowed("no-hydro")
    farm = loop.sites["no-hydro"]
    interval = SiteInterval("no-hydro", now, loop.step_s, 0.02, farm.pue, farm.cap_kw)
    assert decide(farm.groups, interval, (), jobs).batch_cards > 0  # the simulator's reading


def test_the_config_s_power_file_sets_the_ceiling_and_the_peak_risk_rule(tmp_path: Path) -> None:
    parsed = read_source(REPO / "examples/fleet/farm_2sites_3rigs_mixed.yaml")
    (tmp_path / "fleet.yaml").write_text(dump_fleet(parsed.fleet, yaml_format=True))
    shutil.copy(DATA / "ercot_hb_north_dam_2022_july_week.csv", tmp_path / "july.csv")
    (tmp_path / "peaks.txt").write_text("2022-07-20T16:00:00-05:00\n")
    (tmp_path / "power.yaml").write_text(
        "voll_usd_per_mwh: 900\nsites:\n  tx-ercot:\n    four_cp: {peaks: peaks.txt, usd_per_kw_year: 50}\n"
    )
    (tmp_path / "energy.yaml").write_text(
        "fleet: fleet.yaml\npower: power.yaml\nsites:\n  tx-ercot:\n    prices: {file: july.csv}\n"
    )
    loop, _ = build_energy_loop(
        tmp_path / "energy.yaml", EnergyEventStore(open_engine(str(tmp_path / "db.sqlite")))
    )
    assert loop.no_loss and loop.slo_ceiling == {"tx-ercot": pytest.approx(0.9)}
    from rigshift.energy.policy import peak_risk
    from rigshift.energy.prices import read_price_series

    series = read_price_series(tmp_path / "july.csv")
    risk = peak_risk(series.starts, series.usd_per_kwh)
    assert risk.any()
    for i in (int(risk.argmax()), 0):
        assert loop.peak_risk("tx-ercot", float(series.starts[i])) == risk[i]
