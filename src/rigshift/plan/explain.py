"""Why replicas were not placed, filter by filter, and what changed against the current plan."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from rigshift.plan.assign import Placement, RigState
from rigshift.plan.candidates import Candidates
from rigshift.plan.types import Move, Plan, Rejection, Unplaced


def unplaced_reasons(
    cands: Candidates,
    places: list[Placement],
    state: RigState,
    extra: Sequence[tuple[int, float, float]] = (),
) -> list[Unplaced]:
    """For every deployment below its minimum (replicas, or target tokens/s): the static filters'
    rejections, then why the GPUs that *could* hold it were not used (taken, power, host, split)."""
    replicas: dict[int, int] = defaultdict(int)
    tokens: dict[int, float] = defaultdict(float)
    for p in places:
        c = cands.configs[p.config]
        replicas[c.deployment] += c.n
        tokens[c.deployment] += c.n * c.tokens_per_s
    for di, tps, _ in extra:  # cross-rig replicas
        replicas[di] += 1
        tokens[di] += tps
    by_dep: dict[int, list[int]] = defaultdict(list)
    for j, c in enumerate(cands.configs):
        by_dep[c.deployment].append(j)
    out: list[Unplaced] = []
    for di, d in enumerate(cands.demand.deployments):
        short_tokens = 0.0
        if d.replicas is not None:
            short = d.replicas.min - replicas[di]
        else:
            assert d.throughput is not None
            short_tokens = d.throughput.target_tokens_per_s - tokens[di]
            best = max((cands.configs[j].tokens_per_s for j in by_dep[di]), default=0.0)
            short = math.ceil(short_tokens / best - 1e-9) if short_tokens > 1e-6 and best > 0 else 0
            if short_tokens > 1e-6 and best == 0:
                short = 1
        if short <= 0:
            continue
        reasons = [
            Rejection(filter=name, rejected=count, message=msg)
            for name, (count, msg) in cands.rejections[di].by_filter.items()
        ]
        own: dict[int, int] = defaultdict(int)  # GPUs per pool holding this deployment already
        for p in places:
            if cands.configs[p.config].deployment == di:
                own[cands.configs[p.config].pool] += len(p.positions)
        reasons.extend(_capacity_reasons(cands, state, by_dep[di], own))
        if not reasons:
            reasons.append(Rejection(filter="fleet", rejected=0, message="the fleet has no GPUs"))
        out.append(
            Unplaced(
                deployment=d.name,
                replicas=short,
                tokens_per_s_short=round(max(short_tokens, 0.0), 2),
                reasons=reasons,
            )
        )
    return out


def _capacity_reasons(
    cands: Candidates, state: RigState, configs: list[int], own: dict[int, int]
) -> list[Rejection]:
    taken = power = split = 0
    host: dict[str, int] = defaultdict(int)  # "cpu" | "ram" -> GPUs left free by a full host
    host_example: dict[str, str] = {}
    power_sites: set[str] = set()
    for q in sorted({cands.configs[j].pool for j in configs}):
        pool = cands.pools[q]
        mine = [cands.configs[j] for j in configs if cands.configs[j].pool == q]
        free = state.free_gpus(q)
        taken += pool.size - free - own.get(q, 0)
        if free == 0:
            continue
        if not any(state._power_ok(c) for c in mine):
            power += free
            power_sites.add(pool.key.site if pool.key.site in state.site_w else f"circuit {pool.key.circuit}")
            continue
        k = min(c.k for c in mine)
        rigs_with_k = [r for r, pos in state.free[q].items() if len(pos) >= k]
        if not rigs_with_k:
            split += free
            continue
        c = min(mine, key=lambda c: (c.n, c.host_ram_gib))
        if not any(state._host_ok(r, c) for r in rigs_with_k):
            r = rigs_with_k[0]
            axis = "cpu" if state.cpu_left[r] < c.n else "ram"
            host[axis] += free
            if axis not in host_example:
                rig = cands.fleet.rigs[r]
                o = cands.options
                host_example[axis] = (
                    f"every CPU core is taken ({rig.name}: {rig.cpu_cores} cores at {o.cpu_cores_per_replica:g}"
                    " per replica); more cores per rig, or options.cpu_cores_per_replica lower, would place more"
                    if axis == "cpu"
                    else f"host RAM is full ({rig.name}: {rig.ram_gib:g} GiB less {o.host_reserve_ram_gib:g} GiB"
                    f" for the OS, {c.host_ram_gib:.2f} GiB per replica); more RAM per rig would place more"
                )
    out = []
    mine_total = sum(own.values())
    if mine_total:
        out.append(Rejection(filter="own", rejected=mine_total, message="GPUs that fit already serve it"))
    if taken:
        out.append(
            Rejection(
                filter="taken",
                rejected=taken,
                message="GPUs that fit serve other deployments; a higher value for this one would take them",
            )
        )
    if power:
        out.append(
            Rejection(
                filter="power",
                rejected=power,
                message=f"{', '.join(sorted(power_sites))} power budget spent; a larger budget"
                " (options.site_power_kw) or lower power caps would place more",
            )
        )
    if split:
        out.append(
            Rejection(
                filter="same_rig",
                rejected=split,
                message="free GPUs are spread over too many rigs for one replica; grouping cards on fewer rigs would place it",
            )
        )
    for axis in ("cpu", "ram"):
        if host.get(axis):
            out.append(Rejection(filter=f"host {axis}", rejected=host[axis], message=host_example[axis]))
    return out


def _where(rig: str, positions: list[int]) -> str:
    return f"{rig}/{'+'.join(str(p) for p in positions)}"


def moves_against(current: Plan | None, plan: Plan) -> list[Move]:
    """keep / start / stop, with a stop and a start of one deployment paired as a move."""
    if current is None:
        return []
    new_ids = {r.id for r in plan.replicas}
    old_ids = {r.id for r in current.replicas}
    moves: list[Move] = []
    stops: dict[str, list[Move]] = defaultdict(list)
    for r in current.replicas:
        where = _where(r.rig, [g.position for g in r.gpus])
        if r.id in new_ids:
            moves.append(
                Move(action="keep", deployment=r.deployment, replica_id=r.id, source=where, target=where)
            )
        else:
            stops[r.deployment].append(
                Move(action="stop", deployment=r.deployment, replica_id=r.id, source=where)
            )
    for r in plan.replicas:
        if r.id in old_ids:
            continue
        where = _where(r.rig, [g.position for g in r.gpus])
        pending = stops.get(r.deployment)
        if pending:
            old = pending.pop(0)
            moves.append(
                Move(action="move", deployment=r.deployment, replica_id=r.id, source=old.source, target=where)
            )
        else:
            moves.append(Move(action="start", deployment=r.deployment, replica_id=r.id, target=where))
    for left in stops.values():
        moves.extend(left)
    return moves
