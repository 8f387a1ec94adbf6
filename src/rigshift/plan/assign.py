"""Concrete GPUs for chosen configurations: per-rig state, greedy construction, the baseline.

`RigState` holds what is still free (GPUs per pool and rig, host CPU and RAM per rig, watts per
site and circuit). Groups go to the *fullest* rig that still fits (binpack), which keeps whole
rigs free for the multi-GPU replicas that need them. The greedy here is the solver's warm start
and its fallback; `binpack_baseline` is GPUStack's policy, kept for the benchmark.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass

from rigshift.hosts import UNLIMITED
from rigshift.plan.candidates import Candidates, Config, replicas_per_rig


@dataclass(frozen=True)
class Placement:
    config: int
    rig: int
    positions: tuple[int, ...]
    kept_ids: tuple[str, ...] = ()  # ids of current replicas kept on exactly these GPUs


class RigState:
    def __init__(self, cands: Candidates) -> None:
        self.cands = cands
        opts = cands.options
        self.free: list[dict[int, list[int]]] = [
            {r: sorted(p) for r, p in pool.members.items()} for pool in cands.pools
        ]
        # buckets[q][count] = rig indices with exactly `count` free GPUs of pool q, sorted
        self.buckets: list[dict[int, list[int]]] = []
        for free in self.free:
            b: dict[int, list[int]] = defaultdict(list)
            for r in sorted(free):
                b[len(free[r])].append(r)
            self.buckets.append(b)
        self.cpu_left: dict[int, float] = {}
        self.ram_left: dict[int, float] = {}
        for r, rig in enumerate(cands.fleet.rigs):
            per = opts.cpu_cores_per_replica
            self.cpu_left[r] = math.floor(rig.cpu_cores / per) if rig.cpu_cores and per > 0 else math.inf
            self.ram_left[r] = rig.ram_gib - opts.host_reserve_ram_gib if rig.ram_gib else math.inf
        self.site_w = dict(cands.site_budget_w)
        self.circuit_w = dict(cands.circuit_budget_w)

    def _power_ok(self, c: Config) -> bool:
        key = self.cands.pools[c.pool].key
        if key.site in self.site_w and self.site_w[key.site] < c.watts - 1e-6:
            return False
        return not (key.circuit in self.circuit_w and self.circuit_w[key.circuit] < c.watts - 1e-6)

    def _host_ok(self, r: int, c: Config) -> bool:
        return self.cpu_left[r] >= c.n and self.ram_left[r] >= c.n * c.host_ram_gib - 1e-9

    def _commit(self, j: int, r: int, positions: list[int], kept: tuple[str, ...] = ()) -> Placement:
        c = self.cands.configs[j]
        free = self.free[c.pool]
        before = len(free[r])
        b = self.buckets[c.pool]
        b[before].remove(r)
        for p in positions:
            free[r].remove(p)
        bisect.insort(b[len(free[r])], r)
        self.cpu_left[r] -= c.n
        self.ram_left[r] -= c.n * c.host_ram_gib
        key = self.cands.pools[c.pool].key
        if key.site in self.site_w:
            self.site_w[key.site] -= c.watts
        if key.circuit in self.circuit_w:
            self.circuit_w[key.circuit] -= c.watts
        return Placement(j, r, tuple(positions), kept)

    def take_gpus(
        self, q: int, gpus: list[tuple[int, int]], main: int, host_ram: float, watts: float
    ) -> None:
        """Claim GPUs of pool q on several rigs (a cross-rig replica served from `main`)."""
        free, b = self.free[q], self.buckets[q]
        for r, p in gpus:
            b[len(free[r])].remove(r)
            free[r].remove(p)
            bisect.insort(b[len(free[r])], r)
        self.cpu_left[main] -= 1
        self.ram_left[main] -= host_ram
        key = self.cands.pools[q].key
        if key.site in self.site_w:
            self.site_w[key.site] -= watts
        if key.circuit in self.circuit_w:
            self.circuit_w[key.circuit] -= watts

    def take(self, j: int, fullest_first: bool = False) -> Placement | None:
        """One group of configuration j on a rig of its pool, or None.

        The rigs of a pool are alike, and on mining rigs the host (2 cores) binds before the GPUs
        do: groups go to the rig with the *most* free GPUs (groups are placed largest first, so
        this deals them out evenly and strands neither cores nor GPUs). `fullest_first` is
        GPUStack's binpack, for the baseline.
        """
        c = self.cands.configs[j]
        if not self._power_ok(c):
            return None
        b = self.buckets[c.pool]
        for count in sorted((n for n in b if n >= c.k and b[n]), reverse=not fullest_first):
            for r in b[count]:
                if self._host_ok(r, c):
                    return self._commit(j, r, self.free[c.pool][r][: c.k])
        return None

    def take_exact(
        self, j: int, r: int, positions: tuple[int, ...], kept: tuple[str, ...]
    ) -> Placement | None:
        c = self.cands.configs[j]
        free = self.free[c.pool].get(r, [])
        if not all(p in free for p in positions) or not self._power_ok(c) or not self._host_ok(r, c):
            return None
        return self._commit(j, r, list(positions), kept)

    def free_gpus(self, q: int) -> int:
        return sum(len(p) for p in self.free[q].values())


class Tally:
    """Replicas and tokens/s placed so far per deployment, to price the next group."""

    def __init__(self, cands: Candidates) -> None:
        self.cands = cands
        n = len(cands.demand.deployments)
        self.replicas = [0] * n
        self.tokens = [0.0] * n
        self.counts: dict[int, int] = defaultdict(int)

    def add(self, j: int) -> None:
        c = self.cands.configs[j]
        self.replicas[c.deployment] += c.n
        self.tokens[c.deployment] += c.n * c.tokens_per_s
        self.counts[j] += 1

    def room(self, c: Config) -> bool:
        d = self.cands.demand.deployments[c.deployment]
        cap = (
            d.replicas.max
            if d.replicas is not None
            else (d.throughput.max_replicas if d.throughput else None)
        )
        return cap is None or self.replicas[c.deployment] + c.n <= cap

    def below_minimum(self, di: int) -> bool:
        d = self.cands.demand.deployments[di]
        if d.replicas is not None:
            return self.replicas[di] < d.replicas.min
        assert d.throughput is not None
        return self.tokens[di] < d.throughput.target_tokens_per_s - 1e-9

    def marginal(self, c: Config) -> float:
        """What one more group of c adds to the objective (shortfall penalty included)."""
        d = self.cands.demand.deployments[c.deployment]
        opts = self.cands.options
        if d.replicas is not None:
            gain = c.n * c.revenue
            short = max(0, d.replicas.min - self.replicas[c.deployment])
            return gain + opts.shortfall_penalty * min(c.n, short) - c.power_cost
        assert d.throughput is not None
        target = d.throughput.target_tokens_per_s
        add = min(c.n * c.tokens_per_s, max(0.0, target - self.tokens[c.deployment]))
        price = d.value.per_token_s(target)
        return add * (price + opts.shortfall_penalty / 100) - c.power_cost


def _tight_sites(cands: Candidates) -> set[str]:
    """Sites whose budget cannot run every usable GPU at its default limit."""
    demand_w: dict[str, float] = defaultdict(float)
    for pool in cands.pools:
        demand_w[pool.key.site] += pool.size * pool.key.power_default_w
    return {s for s, b in cands.site_budget_w.items() if demand_w.get(s, 0.0) > b}


def greedy_fill(
    cands: Candidates, state: RigState, tally: Tally, rank: list[int] | None = None
) -> list[Placement]:
    """Minimums first (scarcest deployment first, smallest sufficient card first), then by `rank`
    (default: value per GPU, per watt where a site's power budget binds) while a group still adds
    value. The planner passes the LP's order (reduced costs at dual prices) when it has one."""
    placements = fill_minimums(cands, state, tally)
    placements.extend(fill_value(cands, state, tally, rank))
    return placements


def fill_minimums(cands: Candidates, state: RigState, tally: Tally) -> list[Placement]:
    """Place groups of deployments below their minimum: scarcest deployment first, smallest
    sufficient card first (leave the big cards to the models only they can hold)."""
    placements: list[Placement] = []
    configs = cands.configs
    by_dep: dict[int, list[int]] = defaultdict(list)
    for j, c in enumerate(configs):
        by_dep[c.deployment].append(j)
    supply = {
        di: sum(cands.pools[q].size for q in {configs[j].pool for j in js}) for di, js in by_dep.items()
    }
    for di in sorted(by_dep, key=lambda d: (supply[d], d)):
        order = sorted(
            by_dep[di],
            key=lambda j: (
                configs[j].k * cands.pools[configs[j].pool].key.free_gib,
                -configs[j].value_per_group,
                j,
            ),
        )
        for j in order:
            while tally.below_minimum(di) and tally.room(configs[j]):
                placed = state.take(j)
                if placed is None:
                    break
                placements.append(placed)
                tally.add(j)
            if not tally.below_minimum(di):
                break
    return placements


def fill_value(
    cands: Candidates, state: RigState, tally: Tally, rank: list[int] | None = None
) -> list[Placement]:
    """Add groups in `rank` order while each still adds value."""
    placements: list[Placement] = []
    configs = cands.configs
    if rank is None:
        tight = _tight_sites(cands)
        rank = sorted(range(len(configs)), key=lambda j: (-static_score(cands, j, tight), j))
    ranked = rank
    for j in ranked:
        c = configs[j]
        while tally.room(c) and tally.marginal(c) > 1e-12:
            placed = state.take(j)
            if placed is None:
                break
            placements.append(placed)
            tally.add(j)
    return placements


def static_score(cands: Candidates, j: int, tight: set[str]) -> float:
    """Rank of a configuration: value per share of a rig, or per watt where the site's budget binds.
    Throughput deployments count at full price (their marginal value is checked when placing)."""
    c = cands.configs[j]
    d = cands.demand.deployments[c.deployment]
    value = c.value_per_group
    if d.throughput is not None:
        target = d.throughput.target_tokens_per_s
        price = d.value.per_token_s(target)
        value = c.n * c.tokens_per_s * price - c.power_cost
    pool = cands.pools[c.pool]
    if pool.key.site in tight and c.watts > 0:
        return value / c.watts
    # The share of a rig one group uses: its GPUs, or its host (2-core mining hosts run out of
    # cores long before GPUs), whichever is larger.
    per_rig = replicas_per_rig(pool, cands.options, c.host_ram_gib)
    share = max(c.k / max(pool.key.rig_gpus, 1), c.n / per_rig if per_rig < UNLIMITED else 0.0)
    return value / max(share, 1e-9)


def binpack_baseline(cands: Candidates) -> tuple[dict[int, int], list[Placement]]:
    """GPUStack's policy: replica by replica in file order, the first GPU that fits, fullest
    first (least free VRAM), single GPU before a same-rig group; default power, one replica per GPU."""
    state = RigState(cands)
    tally = Tally(cands)
    placements: list[Placement] = []
    configs = cands.configs
    by_dep: dict[int, list[int]] = defaultdict(list)
    for j, c in enumerate(configs):
        if c.cap_fraction == 1.0 and c.n == 1:
            by_dep[c.deployment].append(j)
    for di, d in enumerate(cands.demand.deployments):
        js = sorted(by_dep[di], key=lambda j: (configs[j].k, cands.pools[configs[j].pool].key.free_gib, j))
        want = d.replicas.max if d.replicas is not None else None
        # Resources only shrink, so once a configuration fails it fails for every later replica:
        # walking the list once is the same as restarting the scan for each replica.
        for j in js:
            while tally.room(configs[j]):
                if want is not None and tally.replicas[di] >= want:
                    break
                if want is None and not tally.below_minimum(di):
                    break
                placed = state.take(j, fullest_first=True)
                if placed is None:
                    break
                placements.append(placed)
                tally.add(j)
    return dict(tally.counts), placements
