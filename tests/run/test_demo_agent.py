"""`up --demo`'s agent: the demo farm's rigs report moving, plausible telemetry."""

from __future__ import annotations

from rigshift.fleet.demo import demo_fleet
from rigshift.run.contracts import RigTelemetry
from rigshift.run.demo_agent import DemoFarmAgent, demo_reading
from rigshift.server.telemetry_bounds import telemetry_problem


def test_every_rig_but_the_last_reports_once_a_round_and_readings_move():
    fleet = demo_fleet(scale=60)
    posted: list[RigTelemetry] = []
    clock = iter(float(t) for t in range(1_800_000_000, 1_800_001_000, 7))
    agent = DemoFarmAgent(fleet, posted.append, interval_s=0.0, clock=lambda: next(clock))
    agent.report_round()
    assert [r.rig for r in posted] == [r.name for r in fleet.rigs[:-1]]
    for report in posted:
        assert telemetry_problem(report) is None  # what the server would accept
        assert len(report.gpus) == len(next(r for r in fleet.rigs if r.name == report.rig).gpus)
    rig = fleet.rigs[0]
    first, later = demo_reading(rig, 0.0), demo_reading(rig, 600.0)
    assert [g.power_w for g in first] != [g.power_w for g in later]
    miners = [g for g, inv in zip(first, rig.gpus, strict=True) if inv.miner_running]
    assert all(g.utilization_pct and g.utilization_pct > 90 for g in miners)


def test_a_failed_post_does_not_stop_the_round():
    fleet = demo_fleet(scale=30)
    calls: list[str] = []

    def post(report: RigTelemetry) -> None:
        calls.append(report.rig)
        raise ConnectionError("server stopping")

    agent = DemoFarmAgent(fleet, post, interval_s=0.0)
    agent.report_round()
    assert len(calls) == len(fleet.rigs) - 1 and agent.sent == 0
