"""`plan_placement`: fleet + demand (+ the current plan) -> Plan. The library call the CLI and
the server share.

Steps: candidates (filters, fitters, pools) → the LP relaxation (the bound; its point rounded and
mapped onto rigs, the rest filled greedily in the LP's order) → the integer program while time
lasts and the gap is above tolerance, warm-started from the best plan → cross-rig replicas where
allowed → reasons for everything unplaced and the moves against the current plan. The plain greedy
construction is the fallback when there is no LP point, and the whole method with `solver: greedy`.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any

from rigshift.fleet.model import Fleet, Rig
from rigshift.plan.assign import Placement, RigState, Tally, fill_minimums, greedy_fill
from rigshift.plan.candidates import Candidates, build_candidates
from rigshift.plan.demand import Demand
from rigshift.plan.explain import moves_against, unplaced_reasons
from rigshift.plan.milp import MIP_REL_GAP, KeepGroup, evaluate, solve_milp
from rigshift.plan.rpc import CrossRigPlacement, place_cross_rig
from rigshift.plan.types import DeploymentSummary, Plan, PlannedGpu, PlannedReplica, PlanOptions
from rigshift.toolkit import Toolkit, default_toolkit
from rigshift.units import usd_per_hour

LP_SECONDS_PER_COLUMN = 1e-4  # generous: HiGHS solved 143,000 columns in 3-7 s on 2 busy cores

CurrentGroup = tuple[KeepGroup, int, tuple[int, ...], tuple[str, ...]]  # group, rig, positions, ids


def plan_placement(
    fleet: Fleet,
    demand: Demand,
    current: Plan | None = None,
    options: PlanOptions | None = None,
    tools: Toolkit | None = None,
) -> Plan:
    started = time.perf_counter()
    # Explicit options win (the caller merged the demand file's `options:` already, as the CLI does).
    opts = options if options is not None else demand.plan_options()
    tools = tools or default_toolkit()
    cands = build_candidates(fleet, demand, opts, tools)
    current_groups = _current_groups(cands, current)
    keep_groups: dict[KeepGroup, int] = defaultdict(int)
    for group, _, _, ids in current_groups:
        keep_groups[group] += len(ids)

    best_places: list[Placement] = []
    best_counts: dict[int, int] = {}
    objective, solver = -math.inf, "greedy"
    bound: float | None = None
    status = "greedy only"
    notes: list[str] = []
    for site, left_w in sorted(cands.site_budget_w.items()):
        if left_w <= 0:
            notes.append(
                f"site {site}: hosts, reserved miners and leftover GPUs ({opts.leftover}) already draw "
                f"{cands.fixed_w_by_site.get(site, 0.0) / 1000:.1f} kW, the whole budget: nothing can "
                "serve there (leftover: off frees the idle draw)"
            )

    def consider(counts: dict[int, int], name: str, rank: list[int] | None = None) -> None:
        nonlocal best_places, objective, solver, best_counts
        _, tally, places = _construct(cands, current_groups, counts, rank)
        value = evaluate(cands, tally.counts, _kept(places))
        if value > objective + 1e-9:
            best_places, objective, solver, best_counts = places, value, name, dict(tally.counts)

    if opts.solver == "milp" and cands.configs:
        # 1. The LP relaxation: a bound in a fraction of a second, and a point to round down.
        # The LP gets a floor of time, by its size, even when building candidates ate the budget:
        # without its point the plan falls back to the much weaker greedy and has no bound.
        lp_limit = max(
            _left(opts, started), 0.25 * opts.time_limit_s, 1.0, LP_SECONDS_PER_COLUMN * len(cands.configs)
        )
        lp = solve_milp(cands, None, dict(keep_groups), lp_limit, relax=True)
        if math.isfinite(lp.bound):
            bound, status = lp.bound, "LP bound"
        if lp.counts:
            rank = None
            if lp.reduced_costs is not None:
                # Fill what rounding left in the LP's own order: configurations whose value covers
                # their resources at the dual prices first (reduced cost 0), then the nearest misses.
                rc = lp.reduced_costs
                rank = sorted(rc, key=lambda j: (-round(rc[j], 9), -cands.configs[j].value_per_group, j))
            consider(lp.counts, "highs-lp-rounding", rank)
        if objective == -math.inf:  # no LP point: the greedy construction is the fallback
            consider({}, "greedy")
        # 2. The integer program itself, warm-started from the best plan so far, while time lasts.
        left = _left(opts, started)
        gap_now = None if bound is None else (bound - objective) / max(abs(bound), 1e-9)
        if left > 0.5 and (gap_now is None or gap_now > MIP_REL_GAP):
            mip = solve_milp(cands, best_counts, dict(keep_groups), left)
            status = mip.status
            if math.isfinite(mip.bound):
                bound = mip.bound if bound is None else min(bound, mip.bound)
            if mip.counts:
                consider(mip.counts, "highs-milp")
        elif gap_now is not None:
            status = "within gap tolerance after LP rounding"
        if bound is not None and objective > bound + 1e-6:
            notes.append(
                f"the plan beats the model's bound {bound:.4f}: the model's host slots are conservative"
            )
    else:
        consider({}, "greedy")
        if not cands.configs:
            bound, status = objective, "nothing to place"

    # Last resort for deployments that allow it: split across rigs over the network (slow).
    state = greedy_state_after(cands, best_places)
    cross: list[CrossRigPlacement] = []
    if any(not d.constraints.same_rig for d in demand.deployments):
        tally = Tally(cands)
        for p in best_places:
            tally.add(p.config)
        cross = place_cross_rig(cands, state, tally, tools)
    extra = [(x.deployment, x.tokens_per_s, x.value) for x in cross]
    if cross:
        objective = evaluate(cands, best_counts, _kept(best_places), extra=extra)
        notes.append(f"{len(cross)} cross-rig (llama.cpp RPC) replica(s): slow, outside the solver's model")

    plan = _to_plan(cands, best_places, objective, bound, solver, status, started, notes, cross)
    plan.leftover = _leftover(cands, state, plan.power_w_by_site)
    plan.unplaced = unplaced_reasons(cands, best_places, state, extra)
    plan.moves = moves_against(current, plan)
    return plan


def _cross_rig_replicas(cands: Candidates, cross: list[CrossRigPlacement]) -> list[PlannedReplica]:
    out = []
    for x in cross:
        d = cands.demand.deployments[x.deployment]
        rigs = cands.fleet.rigs
        first = rigs[x.gpus[0][0]]
        gpus = [_planned_gpu(rigs[r], p) for r, p in x.gpus]
        where = "+".join(f"{rigs[r].name}/{p}" for r, p in x.gpus)
        out.append(
            _replica(
                cands,
                x.deployment,
                first,
                id=f"{d.name}@{where}#rpc",
                runtime=x.runtime,
                gpus=gpus,
                tensor_split=[round(1 / len(gpus), 4)] * len(gpus),
                cross_rig=True,
                tokens_per_s=round(x.tokens_per_s, 3),
                revenue_usd_per_h=round(
                    d.value.usd_per_h(x.tokens_per_s)
                    * (cands.options.replica_utilisation if d.replicas else 1.0),
                    6,
                ),
                power_w=round(len(gpus) * x.serving_w, 1),
                power_cost_usd_per_h=round(x.power_cost, 6),
                vram_gib_per_gpu=[round(x.vram_per_gpu_gib, 3)] * len(gpus),
                notes=["llama.cpp RPC across rigs: every token crosses the network (slow)"],
            )
        )
    return out


def _leftover(cands: Candidates, state: RigState, power_w_by_site: dict[str, float]) -> dict[str, int]:
    """GPUs without a replica, by what they do. Mining GPUs take only the budget the serving plan
    left (adding their draw to the site's power); the rest of them are powered down."""
    opts = cands.options
    out: dict[str, int] = defaultdict(int)
    left_w = dict(state.site_w)
    for q, pool in enumerate(cands.pools):
        free = state.free_gpus(q)
        if opts.leftover != "mining" or free == 0:
            out[opts.leftover] += free
            continue
        draw = opts.mining_watts_fraction * pool.key.power_default_w
        site = pool.key.site
        mining = free if site not in left_w or draw <= 0 else max(0, min(free, int(left_w[site] // draw)))
        if site in left_w:
            left_w[site] -= mining * draw
        power_w_by_site[site] = round(power_w_by_site.get(site, 0.0) + mining * draw, 1)
        out["mining"] += mining
        if free - mining:
            out["off (no power left to mine)"] += free - mining
    reserved = cands.unusable.get("reserved for mining", 0)
    if reserved:
        out["reserved for mining"] = reserved
    return dict(out)


def _planned_gpu(rig: Rig, position: int, power_cap_w: float | None = None) -> PlannedGpu:
    gpu = rig.gpus[position]
    return PlannedGpu(
        index=gpu.index,
        position=position,
        bus_id=gpu.bus_id,
        uuid=gpu.uuid,
        model=gpu.model,
        rig=rig.name,
        power_cap_w=power_cap_w,
    )


def _replica(cands: Candidates, di: int, rig: Rig, **placed: Any) -> PlannedReplica:
    """A replica of deployment `di` on `rig` (a cross-rig one: its first rig): what the
    deployment fixes, then what the placement (`placed`) decided."""
    d = cands.demand.deployments[di]
    return PlannedReplica(
        deployment=d.name,
        model=_model_ref(cands, di),
        quant=d.quant,
        context=d.context,
        parallel=d.parallel,
        site=rig.site,
        rig=rig.name,
        **placed,
    )


def _model_ref(cands: Candidates, di: int) -> str:
    """What the runtime loads: a model file as the demand named it, else the catalog key."""
    given = cands.demand.deployments[di].model
    if "/" in given or given.lower().endswith((".gguf", ".json")):
        return given
    return cands.models[di].key


def _left(opts: PlanOptions, started: float) -> float:
    return max(0.0, opts.time_limit_s - (time.perf_counter() - started))


def _kept(places: list[Placement]) -> int:
    return sum(len(p.kept_ids) for p in places)


def greedy_state_after(cands: Candidates, places: list[Placement]) -> RigState:
    """Rebuild the free-capacity state after a set of placements (for the reasons report)."""
    state = RigState(cands)
    for p in places:
        state.take_exact(p.config, p.rig, p.positions, p.kept_ids)
    return state


def _current_groups(cands: Candidates, current: Plan | None) -> list[CurrentGroup]:
    """Current replicas that may stay where they are: same deployment definition, GPUs still in
    the fleet and in one pool. Replicas sharing GPUs form one group."""
    if current is None:
        return []
    pool_of: dict[tuple[int, int], int] = {}
    for q, pool in enumerate(cands.pools):
        for r, positions in pool.members.items():
            for p in positions:
                pool_of[(r, p)] = q
    deps = {d.name: i for i, d in enumerate(cands.demand.deployments)}
    grouped: dict[tuple[int, int, tuple[int, ...]], list[str]] = defaultdict(list)
    for replica in current.replicas:
        dep_index = deps.get(replica.deployment)
        rig_index = cands.rig_index.get(replica.rig)
        if dep_index is None or rig_index is None or replica.cross_rig:
            continue
        d = cands.demand.deployments[dep_index]
        if (replica.quant, replica.context, replica.parallel) != (d.quant, d.context, d.parallel):
            continue
        grouped[(dep_index, rig_index, tuple(g.position for g in replica.gpus))].append(replica.id)
    out: list[CurrentGroup] = []
    for (di, r, gpu_positions), ids in sorted(grouped.items()):
        pools = {pool_of.get((r, p)) for p in gpu_positions}
        pool_index = pools.pop() if len(pools) == 1 else None
        if pool_index is None:
            continue
        out.append(((di, pool_index, len(gpu_positions), len(ids)), r, gpu_positions, tuple(sorted(ids))))
    return out


def _construct(
    cands: Candidates,
    current_groups: list[CurrentGroup],
    counts: dict[int, int],
    rank: list[int] | None = None,
) -> tuple[RigState, Tally, list[Placement]]:
    """Kept replicas on their GPUs, then the given counts (largest groups first), then greedy
    repair and fill. With empty counts this is the plain greedy construction."""
    state, tally = RigState(cands), Tally(cands)
    places: list[Placement] = []
    remaining = dict(counts)
    by_group: dict[KeepGroup, list[int]] = defaultdict(list)
    for j, c in enumerate(cands.configs):
        by_group[(c.deployment, c.pool, c.k, c.n)].append(j)
    for group, r, positions, ids in current_groups:
        js = by_group.get(group, [])
        if counts:
            js = [j for j in js if remaining.get(j, 0) > 0]
        # keep at the best-valued power cap the counts allow
        for j in sorted(js, key=lambda j: -cands.configs[j].value_per_group):
            if not tally.room(cands.configs[j]):
                continue
            if not counts and tally.marginal(cands.configs[j]) + cands.options.migration_cost * len(ids) <= 0:
                continue
            placed = state.take_exact(j, r, positions, ids)
            if placed is not None:
                places.append(placed)
                tally.add(j)
                if counts:
                    remaining[j] -= 1
                break
    # Largest first (GPUs per group, then host RAM per replica): first-fit decreasing packs rigs
    # the way the aggregate counts assumed.
    # Deployments with a minimum (replicas or a throughput target) go first: what fails to map
    # later is then plain value, not a shortfall.
    needy = {
        di
        for di, d in enumerate(cands.demand.deployments)
        if d.throughput is not None or (d.replicas is not None and d.replicas.min > 0)
    }
    order = sorted(
        remaining,
        key=lambda j: (
            cands.configs[j].deployment not in needy,
            -cands.configs[j].k,
            -cands.configs[j].host_ram_gib,
            j,
        ),
    )

    def place(j: int, only_below_minimum: bool) -> None:
        c = cands.configs[j]
        while remaining[j] > 0 and tally.room(c):
            if only_below_minimum and not tally.below_minimum(c.deployment):
                return
            placed = state.take(j)
            remaining[j] -= 1
            if placed is None:
                continue
            places.append(placed)
            tally.add(j)

    # Minimums first, on the configurations the counts chose; what those could not map goes
    # elsewhere (fill_minimums) before anything placed for plain value takes the room.
    for j in order:
        if cands.configs[j].deployment in needy:
            place(j, only_below_minimum=True)
    places.extend(fill_minimums(cands, state, tally))
    for j in order:
        place(j, only_below_minimum=False)
    places.extend(greedy_fill(cands, state, tally, rank))
    return state, tally, places


def _tensor_split(cands: Candidates, rig: int, positions: tuple[int, ...]) -> list[float] | None:
    if len(positions) < 2:
        return None
    gpus = cands.fleet.rigs[rig].gpus
    free = [
        max(0.0, gpus[p].vram_gib - gpus[p].vram_used_by_others_gib - cands.options.vram_reserve_gib)
        for p in positions
    ]
    total = sum(free) or 1.0
    return [round(f / total, 4) for f in free]


def _to_plan(
    cands: Candidates,
    places: list[Placement],
    objective: float,
    bound: float | None,
    solver: str,
    status: str,
    started: float,
    notes: list[str],
    cross: list[CrossRigPlacement],
) -> Plan:
    demand = cands.demand
    tokens_by_dep: dict[int, float] = defaultdict(float)
    for p in places:
        c = cands.configs[p.config]
        tokens_by_dep[c.deployment] += c.n * c.tokens_per_s
    # A throughput deployment is paid only up to its target: scale each replica's revenue.
    paid_share = {}
    for di, d in enumerate(demand.deployments):
        if d.throughput is not None and tokens_by_dep[di] > 0:
            paid_share[di] = min(1.0, d.throughput.target_tokens_per_s / tokens_by_dep[di])
        elif d.replicas is not None:  # no volume: paid at the stated utilisation, not full capacity
            paid_share[di] = cands.options.replica_utilisation
    replicas: list[PlannedReplica] = []
    beside = 0
    stopped: set[tuple[str, int]] = set()
    site_w: dict[str, float] = defaultdict(float, {s: w for s, w in cands.fixed_w_by_site.items()})
    for p in sorted(places, key=lambda p: (p.config, p.rig, p.positions)):
        c = cands.configs[p.config]
        d = demand.deployments[c.deployment]
        rig = cands.fleet.rigs[p.rig]
        cap_w = None if c.cap_fraction == 1.0 else round(c.cap_w, 1)
        gpus = [_planned_gpu(rig, pos, power_cap_w=cap_w) for pos in p.positions]
        price = d.value.usd_per_mtok or 0.0
        site_w[rig.site] += c.watts
        key = cands.pools[c.pool].key
        miner_note = []
        if key.beside_miner:
            miner_note = [
                f"beside a running miner: credited {cands.options.miner_contention_factor:g} of its speed"
            ]
            beside += c.n
        elif key.miner_stopped:
            miner_note = ["its GPUs' miners are stopped: their mining income is lost"]
            stopped.update((rig.name, pos) for pos in p.positions)
        ids = list(p.kept_ids)
        base = f"{d.name}@{rig.name}/{'+'.join(str(x) for x in p.positions)}"
        fresh = [f"{base}#{i}" for i in range(c.n)]
        ids += [i for i in fresh if i not in ids][: c.n - len(ids)]
        for rid in ids:
            replicas.append(
                _replica(
                    cands,
                    c.deployment,
                    rig,
                    id=rid,
                    runtime=c.runtime,
                    gpus=gpus,
                    tensor_split=_tensor_split(cands, p.rig, p.positions),
                    split_mode=c.split_mode,
                    shared_gpu=c.n,
                    tokens_per_s=round(c.tokens_per_s, 3),
                    revenue_usd_per_h=round(
                        usd_per_hour(c.tokens_per_s, price) * paid_share.get(c.deployment, 1.0), 6
                    ),
                    power_w=round(c.k * c.serving_w / c.n, 1),
                    power_cost_usd_per_h=round(c.power_cost / c.n, 6),
                    vram_gib_per_gpu=[round(c.vram_per_gpu_gib, 3)] * c.k,
                    notes=list(miner_note),
                )
            )
    if beside:
        notes.append(
            f"{beside} replica(s) beside a running miner, credited {cands.options.miner_contention_factor:g} "
            "of their speed (options.beside_miner: stop_miner stops the miners instead)"
        )
    if stopped:
        notes.append(
            f"{len(stopped)} miner(s) stopped for replicas (options.beside_miner: stop_miner): their mining "
            "income is lost (rigshift econ prices it)"
        )
    replicas.extend(_cross_rig_replicas(cands, cross))
    for x in cross:
        site_w[cands.pools[x.pool].key.site] += x.watts
    summaries = []
    for d in demand.deployments:
        mine = [r for r in replicas if r.deployment == d.name]
        wanted = (
            f"{d.replicas.min}-{d.replicas.max} replicas"
            if d.replicas is not None
            else f"{d.throughput.target_tokens_per_s:g} tok/s"
            if d.throughput is not None
            else ""
        )
        summaries.append(
            DeploymentSummary(
                deployment=d.name,
                replicas=len(mine),
                tokens_per_s=round(sum(r.tokens_per_s for r in mine), 2),
                revenue_usd_per_h=round(sum(r.revenue_usd_per_h for r in mine), 4),
                wanted=wanted,
            )
        )
    gap = None
    if bound is not None:
        gap = max(0.0, (bound - objective) / max(abs(bound), 1e-9))
    return Plan(
        fleet=cands.fleet.name,
        replicas=replicas,
        objective=round(objective, 6),
        bound=None if bound is None else round(bound, 6),
        gap=None if gap is None else round(gap, 6),
        solver=solver,
        solver_status=status,
        solve_seconds=round(time.perf_counter() - started, 3),
        revenue_usd_per_h=round(sum(r.revenue_usd_per_h for r in replicas), 4),
        power_cost_usd_per_h=round(sum(r.power_cost_usd_per_h for r in replicas), 4),
        power_w_by_site={s: round(w, 1) for s, w in sorted(site_w.items())},
        deployments=summaries,
        notes=notes,
        excluded=dict(sorted(cands.unusable.items(), key=lambda kv: (-kv[1], kv[0]))),
        unassessed=cands.unassessed,
        gpus=cands.fleet.gpu_count,
        min_tokens_per_s={
            d.name: cands.options.min_decode_tps if d.min_tokens_per_s is None else d.min_tokens_per_s
            for d in cands.demand.deployments
        },
    )
