"""`rigshift energy simulate` on years of real prices, and how fast a farm-year at 15 minutes runs.

    python bench/energy_simulate.py \\
        --prices /path/ercot_hb_north_dam_2021.csv --day-ahead \\
        --prices /path/ercot_hb_north_dam_2022.csv --day-ahead \\
        --prices /path/ercot_hb_north_dam_2024.csv --day-ahead \\
        --prices /path/ercot_hb_north_rt15_2024.csv \\
        --speed /path/ercot_hb_north_rt15_2024.csv --gpus 10000

Outcome part: for each price file (read by path, never copied), the demo farm's Texas site with
the farm decision's converted cards, demand and staff cost (as `energy simulate --demo`): every
strategy's net, the best baseline, the policy's margin over it, batch deadlines, SLO minutes lost,
and the policy's spend and revenue in hours at or above $1,000/MWh. `--day-ahead` after a file
says its prices were known a day ahead.

Speed part: the whole simulation (policy and the four baselines) of the price file for a demo
fleet of `--gpus` GPUs (every site buys at that file's prices; every capable card converted, the
heaviest case), beside the old implementation (`decide` interval by interval, policy and two
baselines: the simulator as it was at commit `OLD`, read from git, so no copy of it lives on) over
`--old-days` days, scaled to the file's span. Prints the load average: the shared build machine's
figures vary with it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

from rigshift.decision.schedule import converted_by_class
from rigshift.decision.service import decision_for
from rigshift.energy.contracts import read_power_terms
from rigshift.energy.demand import decision_demand
from rigshift.energy.farm import build_farm
from rigshift.energy.prices import read_price_series
from rigshift.energy.simulate import STRATEGIES, simulate
from rigshift.fleet.demo import demo_fleet

OLD = "9d6e6db"  # the last commit before issue 17: the per-interval simulator and its baselines
ROOT = Path(__file__).resolve().parents[1]


def _old_module(path: str, name: str, renames: tuple[tuple[str, str], ...] = ()) -> types.ModuleType:
    """A module of the repository as it was at `OLD` (git show), loaded under `name`."""
    source = subprocess.run(
        ["git", "show", f"{OLD}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for before, after in renames:
        source = source.replace(before, after)
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(source, f"{OLD}:{path}", "exec"), module.__dict__)  # our own history, read from git
    return module


def old_simulate(*args: Any, **kwargs: Any) -> Any:
    """The old `rigshift.energy.simulate.simulate`: `decide` interval by interval."""
    _old_module("src/rigshift/energy/policy.py", "old_energy_policy")
    old = _old_module(
        "src/rigshift/energy/simulate.py",
        "old_energy_simulate",
        (("from rigshift.energy.policy import", "from old_energy_policy import"),),
    )
    return old.simulate(*args, **kwargs)


def outcome(path: Path, day_ahead: bool, point: str | None, power: Path | None = None) -> None:
    fleet = demo_fleet()
    made, _ = decision_for(fleet)
    farm = build_farm(fleet, sites=["tx-ercot"], converted=converted_by_class(made.gpus))
    demand = decision_demand(made, farm, "America/Chicago")
    series = read_price_series(path, settlement_point=point)
    terms = read_power_terms(power) if power is not None else None
    sim = simulate(farm, {"tx-ercot": series}, demand, day_ahead=day_ahead, terms=terms)
    data = sim.to_json(with_intervals=False)
    s = series.summary()
    print(
        f"\n{path.name}: {s['intervals']:,} x {s['step_minutes']} min, mean ${s['mean_usd_mwh']}/MWh, "
        f"max ${s['max_usd_mwh']:,.0f}/MWh, day-ahead curve known: {day_ahead}; {sim.seconds:.2f} s"
    )
    print(
        f"  {'strategy':<17}{'net $':>10}{'energy $':>10}{'tokens $':>10}{'mining $':>10}{'credit $':>10}{'fixed $':>9}"
        f"{'batch':>9}{'SLO min':>9}{'off h':>8}"
    )
    for name in STRATEGIES:
        r = data[name]
        print(
            f"  {name:<17}{r['net_usd']:>10,.0f}{r['energy_cost_usd']:>10,.0f}{r['token_revenue_usd']:>10,.0f}"
            f"{r['mining_revenue_usd']:>10,.0f}{r['power_credit_usd']:>10,.0f}{r['fixed_cost_usd']:>9,.0f}"
            f"{r['batch_deadlines_met']:>5}/{r['batch_deadlines_total']:<3}{r['slo_minutes_lost']:>9,.0f}"
            f"{r['hours_off']:>8,.0f}"
        )
    high = data["high_price_hours"]
    verdict = "LOSES" if data["policy_loses"] else "wins"
    print(
        f"  best baseline {data['best_baseline']}; policy {verdict} by ${abs(data['policy_margin_usd']):,.2f}; "
        f">= $1,000/MWh: {high['hours']:,.1f} h, spent ${high['energy_cost_usd']:,.2f}, "
        f"earned ${high['revenue_usd']:,.2f}; SLO minutes above the ceiling "
        f"${data['inputs']['slo_ceiling_usd_per_mwh']['tx-ercot']:,.0f}/MWh: "
        f"{data['policy']['slo_minutes_above_ceiling']:,.0f}"
    )


def speed(path: Path, gpus: int, old_days: float, point: str | None) -> None:
    fleet = demo_fleet(scale=gpus)
    made, _ = decision_for(fleet)
    farm = build_farm(fleet)
    demand = decision_demand(made, farm)
    series = read_price_series(path, settlement_point=point)
    prices = {s.site: series for s in farm.sites}
    began, cpu = time.perf_counter(), time.process_time()
    sim = simulate(farm, prices, demand)
    wall, wall_cpu = time.perf_counter() - began, time.process_time() - cpu
    span_days = (series.end - series.start) / 86400
    short = series.window(series.start, series.start + old_days * 86400)
    began, cpu = time.perf_counter(), time.process_time()
    old_simulate(farm, {s.site: short for s in farm.sites}, demand)
    old = (time.perf_counter() - began) * span_days / old_days
    old_cpu = (time.process_time() - cpu) * span_days / old_days
    print(
        f"\nspeed: {fleet.gpu_count:,} GPUs at {len(farm.sites)} sites "
        f"({sum(len(s.groups) for s in farm.sites)} card groups), {len(series):,} intervals of "
        f"{series.step_s // 60} min"
    )
    print(
        f"  vectorised (now), policy + 4 baselines: {wall:8.1f} s wall, {wall_cpu:8.1f} s CPU   "
        f"(policy net ${sim.totals('policy').net_usd:,.0f})"
    )
    print(
        f"  old replay, policy + 2 baselines:       {old:8.1f} s wall, {old_cpu:8.1f} s CPU   "
        f"(measured over {old_days:g} days, scaled x{span_days / old_days:.0f})"
    )
    print(f"  load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prices", type=Path, action="append", default=[], help="a price file (repeat)")
    parser.add_argument("--day-ahead", action="append_const", const=True, dest="day_ahead_flags",
                        help="the preceding --prices file is day-ahead")  # fmt: skip
    parser.add_argument("--settlement-point", default="HB_NORTH", help="for multi-point ERCOT files")
    parser.add_argument("--speed", type=Path, help="price file for the speed run (a year at 15 minutes)")
    parser.add_argument("--gpus", type=int, default=10_000)
    parser.add_argument("--power", type=Path, help="a power file (contracts, programs) for the outcome runs")
    parser.add_argument("--old-days", type=float, default=7.0)
    args, _rest = parser.parse_known_args()
    # --day-ahead applies to the --prices just before it: re-read the raw argv to pair them.
    pairs: list[tuple[Path, bool]] = []
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg == "--prices":
            pairs.append((Path(argv[i + 1]), i + 2 < len(argv) and argv[i + 2] == "--day-ahead"))
    for path, ahead in pairs:
        outcome(path, ahead, args.settlement_point, args.power)
    if args.speed:
        speed(args.speed, args.gpus, args.old_days, args.settlement_point)


if __name__ == "__main__":
    main()
