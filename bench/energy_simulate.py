"""`rigshift energy simulate` on years of real prices, and how fast a year of 15-minute intervals runs.

    python bench/energy_simulate.py --prices /path/ercot_hb_north_dam_2021.csv --day-ahead \\
        --prices /path/ercot_hb_north_dam_2024.csv --day-ahead
    python bench/energy_simulate.py --speed /path/ercot_hb_north_rt15_2024.csv --gpus 10000

Outcome part: for each price file (any year, any ERCOT or plain file, read by path), the demo
farm's Texas site and its default demand, policy against always-on and mining-only: net, the
margin over always-on, batch deadlines met, SLO minutes lost outside events, curtailed hours.
`--day-ahead` after a file says its prices were known a day ahead (a day-ahead market file).

Speed part: the whole simulation (policy and both baselines) of the price file for a demo
fleet of `--gpus` GPUs (both sites buy at that file's prices), beside the naive baseline: the
same policy deciding card by card (one group per GPU) over `--naive-days` days, scaled to the
file's span. Prints the machine's load average: the shared build machine's figures vary with it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from rigshift.energy.demand import demo_demand
from rigshift.energy.farm import Farm, SiteFarm, build_farm
from rigshift.energy.prices import read_price_series
from rigshift.energy.simulate import simulate
from rigshift.fleet.demo import demo_fleet


def outcome(path: Path, day_ahead: bool, point: str | None) -> None:
    farm = build_farm(demo_fleet(), sites=["tx-ercot"])
    series = read_price_series(path, settlement_point=point)
    sim = simulate(farm, {"tx-ercot": series}, demo_demand(farm), day_ahead=day_ahead)
    data = sim.to_json(with_intervals=False)
    s = series.summary()
    print(
        f"\n{path.name}: {s['start']} … {s['end']}, {s['intervals']} × {s['step_minutes']} min, "
        f"mean ${s['mean_usd_mwh']}/MWh, max ${s['max_usd_mwh']}/MWh, day-ahead curve known: {day_ahead}"
    )
    print(
        f"  {'strategy':<12} {'net $':>12} {'energy $':>11} {'tokens $':>11} {'mining $':>10} "
        f"{'deadlines':>10} {'SLO min lost':>13} {'curtailed h':>12}"
    )
    for name in ("policy", "always_on", "mining_only"):
        r = data[name]
        print(
            f"  {name:<12} {r['net_usd']:>12,.0f} {r['energy_cost_usd']:>11,.0f} {r['token_revenue_usd']:>11,.0f} "
            f"{r['mining_revenue_usd']:>10,.0f} {r['batch_deadlines_met']:>4}/{r['batch_deadlines_total']:<5} "
            f"{r['slo_minutes_lost']:>13,.0f} {r['curtailed_hours']:>12,.1f}"
        )
    print(
        f"  policy - always-on: ${data['policy_vs_always_on_usd']:,.0f} ({data['policy_vs_always_on_pct']}%); "
        f"{sim.seconds:.1f} s"
    )
    # How much of the margin is the estimator's power-cap model (a prior, not measured): the same
    # policy allowed only the cards' default limit.
    uncapped = Farm(
        tuple(
            SiteFarm(s.site, tuple(replace(g, levels=g.levels[:1]) for g in s.groups), s.pue, s.cap_kw)
            for s in farm.sites
        ),
        farm.model_class,
        farm.provenance,
    )
    plain = simulate(
        uncapped,
        {"tx-ercot": series},
        demo_demand(farm),
        day_ahead=day_ahead,
        strategies=("policy", "always_on"),
    )
    p, a = plain.totals("policy"), plain.totals("always_on")
    print(
        f"  without power caps (default limits only): policy net ${p.net_usd:,.0f}, "
        f"policy - always-on ${p.net_usd - a.net_usd:,.0f}; deadlines {p.batch_deadlines_met}/{p.batch_deadlines_total}, "
        f"SLO min lost {p.slo_minutes_lost:,.0f}"
    )


def per_card(farm: Farm) -> Farm:
    """The naive baseline's farm: every GPU its own group (what a per-GPU loop decides over)."""
    sites = []
    for site in farm.sites:
        groups = tuple(replace(g, id=f"{g.id}#{i}", count=1) for g in site.groups for i in range(g.count))
        sites.append(SiteFarm(site.site, groups, site.pue, site.cap_kw))
    return Farm(tuple(sites), farm.model_class, farm.provenance)


def speed(path: Path, gpus: int, naive_days: float, point: str | None) -> None:
    fleet = demo_fleet(scale=gpus)
    farm = build_farm(fleet)
    series = read_price_series(path, settlement_point=point)
    demand = demo_demand(farm)
    prices = {s.site: series for s in farm.sites}
    began, cpu = time.perf_counter(), time.process_time()
    sim = simulate(farm, prices, demand)
    grouped, grouped_cpu = time.perf_counter() - began, time.process_time() - cpu
    span_days = (series.end - series.start) / 86400
    short = series.window(series.start, series.start + naive_days * 86400)
    naive_farm = per_card(farm)
    began, cpu = time.perf_counter(), time.process_time()
    simulate(naive_farm, {s.site: short for s in farm.sites}, demand)
    naive = (time.perf_counter() - began) * span_days / naive_days
    naive_cpu = (time.process_time() - cpu) * span_days / naive_days
    print(
        f"\nspeed: {fleet.gpu_count:,} GPUs at {len(farm.sites)} sites "
        f"({sum(len(s.groups) for s in farm.sites)} card groups), {len(series):,} intervals of "
        f"{series.step_s // 60} min, policy + 2 baselines"
    )
    print(
        f"  grouped (rigshift):   {grouped:8.1f} s wall, {grouped_cpu:8.1f} s CPU   "
        f"(policy net ${sim.totals('policy').net_usd:,.0f})"
    )
    print(
        f"  per-GPU (naive):      {naive:8.1f} s wall, {naive_cpu:8.1f} s CPU   "
        f"(measured over {naive_days:g} days, scaled ×{span_days / naive_days:.0f})"
    )
    print(f"  load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prices", type=Path, action="append", default=[], help="a price file (repeat)")
    parser.add_argument(
        "--day-ahead",
        action="append_const",
        const=True,
        dest="day_ahead_flags",
        help="the preceding --prices file is day-ahead",
    )
    parser.add_argument("--settlement-point", default="HB_NORTH", help="for multi-point ERCOT files")
    parser.add_argument("--speed", type=Path, help="price file for the speed run (a year at 15 minutes)")
    parser.add_argument("--gpus", type=int, default=10_000)
    parser.add_argument("--naive-days", type=float, default=1.0)
    args, _rest = parser.parse_known_args()
    # --day-ahead applies to the --prices just before it: re-read the raw argv to pair them.
    pairs: list[tuple[Path, bool]] = []
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg == "--prices":
            pairs.append((Path(argv[i + 1]), i + 2 < len(argv) and argv[i + 2] == "--day-ahead"))
    for path, ahead in pairs:
        outcome(path, ahead, args.settlement_point)
    if args.speed:
        speed(args.speed, args.gpus, args.naive_days, args.settlement_point)


if __name__ == "__main__":
    main()
