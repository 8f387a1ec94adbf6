"""The exact placement model, solved with HiGHS (highspy). The integer program:

Sets
    d ∈ D        deployments;  q ∈ Q  pools of identical GPUs (same site, circuit, card, free VRAM,
    link, power limits, labels);  j ∈ J  configurations (d_j, q_j, k_j GPUs per group, n_j replicas
    per group, power cap);  s ∈ S sites, c ∈ C circuits with a power budget;  g ∈ G keep groups
    (deployment, pool, k, n) of the current plan when re-planning.
Data
    N_q GPUs in q;  A_qk = Σ_rigs min(⌊GPUs of q on the rig / k⌋, CPU cap) groups of k;
    t_j tokens/s per replica;  r_j $/h per replica (replica-count deployments);  e_j $/h power per
    group;  w_j serving watts per group over the GPU's leftover draw;  h_j host RAM per replica;
    B_s, B_c watts left for serving;  min_d, max_d replicas;  T_d target tokens/s;  p_d $/h per
    tok/s served;  P shortfall penalty;  m migration cost;  cur_g replicas in g now.
Variables
    y_j ∈ ℤ≥0 groups of configuration j;  σ_d ∈ [0, T_d] tokens/s served (throughput deployments);
    u_d ≥ 0 shortfall (replicas, or hundreds of tok/s);  κ_g ∈ [0, cur_g] replicas kept in place.
Objective
    max Σ_j (n_j r_j − e_j) y_j + Σ_d p_d σ_d − P Σ_d u_d + m Σ_g κ_g
Constraints
    Σ_{j∈q} k_j y_j ≤ N_q                                  ∀q   (GPUs)
    Σ_{j∈q, k_j=k} y_j ≤ A_qk                               ∀q, k≥2 (a group stays on one rig)
    y_j ≤ Σ_{rigs of q} min(⌊GPUs on the rig / k_j⌋, ⌊m_j / n_j⌋)          (bounds, per rig)
    Σ_{j∈q} (n_j / m_j) y_j ≤ R_q                            ∀q   (host slots)
        m_j = min(⌊cores / cores per replica⌋, ⌊(RAM − OS reserve) / h_j⌋): replicas of j one rig hosts
    Σ_{j∈d} n_j y_j ≤ max_d;   Σ_{j∈d} n_j y_j + u_d ≥ min_d      (replica-count deployments)
    σ_d ≤ Σ_{j∈d} n_j t_j y_j;  σ_d + 100 u_d ≥ T_d                 (throughput deployments)
    Σ_{j∈s} w_j y_j ≤ B_s ∀s;   Σ_{j∈c} w_j y_j ≤ B_c ∀c        (power budgets)
    κ_g ≤ Σ_{j∈g} n_j y_j                                    ∀g   (keep only what is placed)

Host rows are per pool (all its R_q rigs have one host size). The slot row is conservative (two
replicas that would just share a rig's RAM may be kept apart), which makes almost every solution
map onto rigs; the bound is the bound of this model. A rig whose GPUs sit in several pools counts
its host once per pool, so mapping counts onto rigs (`planner._construct`) checks the exact
per-rig limits, re-places greedily what it cannot map, and the plan reports the realized
objective.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import highspy
import numpy as np

from rigshift.hosts import UNLIMITED
from rigshift.mip import new_highs
from rigshift.plan.candidates import Candidates, Config, replicas_per_rig

MIP_REL_GAP = 0.004  # stop within 0.4% of the bound: the target is 98%, the rest is mapping

KeepGroup = tuple[int, int, int, int]  # (deployment, pool, k, n)


@dataclass
class MilpResult:
    counts: dict[int, int]  # config index -> groups
    objective: float
    bound: float
    status: str
    seconds: float
    reduced_costs: dict[int, float] | None = None  # LP only: value less its resources at dual prices


def _value_terms(cands: Candidates) -> tuple[list[float], list[float]]:
    """(price per tok/s-hour, target) per deployment; zeros for replica-count deployments."""
    prices, targets = [], []
    for d in cands.demand.deployments:
        if d.throughput is None:
            prices.append(0.0)
            targets.append(0.0)
            continue
        target = d.throughput.target_tokens_per_s
        prices.append(d.value.per_token_s(target))
        targets.append(target)
    return prices, targets


def evaluate(
    cands: Candidates,
    counts: dict[int, int],
    kept: int = 0,
    penalty: float | None = None,
    extra: Sequence[tuple[int, float, float]] = (),
) -> float:
    """The objective of a set of chosen groups, exactly as the integer program scores it
    (`penalty=0`: the plain value, revenue less power, without shortfall penalties). `extra`:
    replicas placed outside the model (cross-rig), as (deployment, tokens/s, value $/h)."""
    prices, targets = _value_terms(cands)
    total = cands.options.migration_cost * kept
    replicas = [0] * len(cands.demand.deployments)
    tokens = [0.0] * len(cands.demand.deployments)
    for j, y in counts.items():
        if y <= 0:
            continue
        c = cands.configs[j]
        total += c.value_per_group * y
        replicas[c.deployment] += c.n * y
        tokens[c.deployment] += c.n * c.tokens_per_s * y
    for di, tps, value in extra:
        replicas[di] += 1
        tokens[di] += tps
        total += value
    if penalty is None:
        penalty = cands.options.shortfall_penalty
    for di, d in enumerate(cands.demand.deployments):
        if d.throughput is None:
            assert d.replicas is not None
            total -= penalty * max(0, d.replicas.min - replicas[di])
        else:
            served = min(targets[di], tokens[di])
            total += prices[di] * served - penalty * (targets[di] - served) / 100
    return total


def solve_milp(
    cands: Candidates,
    warm: dict[int, int] | None,
    keep_groups: dict[KeepGroup, int],
    time_limit_s: float,
    relax: bool = False,
) -> MilpResult:
    """Solve the integer program (or, with relax=True, its LP relaxation: a bound and a
    fractional point to round down)."""
    started = time.perf_counter()
    configs = cands.configs
    n_y = len(configs)
    deployments = cands.demand.deployments
    prices, targets = _value_terms(cands)
    opts = cands.options

    cost: list[float] = [c.value_per_group for c in configs]
    lower: list[float] = [0.0] * n_y
    upper: list[float] = [_upper(cands, c) for c in configs]
    integral: list[int] = [1] * n_y
    sigma: dict[int, int] = {}
    short: dict[int, int] = {}
    for di, d in enumerate(deployments):
        if d.throughput is not None:
            sigma[di] = len(cost)
            cost.append(prices[di])
            lower.append(0.0)
            upper.append(targets[di])
            integral.append(0)
        short[di] = len(cost)
        cost.append(-opts.shortfall_penalty)
        lower.append(0.0)
        upper.append(highspy.kHighsInf)
        integral.append(0)
    keep_col: dict[KeepGroup, int] = {}
    for g, cur in sorted(keep_groups.items()):
        keep_col[g] = len(cost)
        cost.append(opts.migration_cost)
        lower.append(0.0)
        upper.append(float(cur))
        integral.append(0)

    rows_lo: list[float] = []
    rows_hi: list[float] = []
    entries: list[tuple[int, int, float]] = []  # (row, col, value)

    def row(terms: list[tuple[int, float]], lo: float, hi: float) -> None:
        r = len(rows_lo)
        rows_lo.append(lo)
        rows_hi.append(hi)
        entries.extend((r, col, val) for col, val in terms)

    inf = highspy.kHighsInf
    by_pool: dict[int, list[int]] = defaultdict(list)
    by_dep: dict[int, list[int]] = defaultdict(list)
    by_site: dict[str, list[int]] = defaultdict(list)
    by_circuit: dict[str, list[int]] = defaultdict(list)
    by_keep: dict[KeepGroup, list[int]] = defaultdict(list)
    for j, c in enumerate(configs):
        by_pool[c.pool].append(j)
        by_dep[c.deployment].append(j)
        key = cands.pools[c.pool].key
        by_site[key.site].append(j)
        if key.circuit is not None:
            by_circuit[key.circuit].append(j)
        by_keep[(c.deployment, c.pool, c.k, c.n)].append(j)

    for q, js in sorted(by_pool.items()):
        pool = cands.pools[q]
        row([(j, float(configs[j].k)) for j in js], -inf, float(pool.size))
        # every group holds at least one replica, so a rig holds at most its CPU cap of groups
        cpu_cap = replicas_per_rig(pool, opts, 0.0)
        for k in sorted({configs[j].k for j in js} - {1}):
            jk = [j for j in js if configs[j].k == k]
            if len(jk) > 1:
                row([(j, 1.0) for j in jk], -inf, float(pool.groups_of(k, cpu_cap)))
    _host_rows(cands, row)
    for di, d in enumerate(deployments):
        js = by_dep.get(di, [])
        if d.replicas is not None:
            row([(j, float(configs[j].n)) for j in js] + [(short[di], 1.0)], float(d.replicas.min), inf)
            row([(j, float(configs[j].n)) for j in js], -inf, float(d.replicas.max))
        else:
            assert d.throughput is not None
            row([(j, -configs[j].n * configs[j].tokens_per_s) for j in js] + [(sigma[di], 1.0)], -inf, 0.0)
            row([(sigma[di], 1.0), (short[di], 100.0)], targets[di], inf)
            if d.throughput.max_replicas is not None:
                row([(j, float(configs[j].n)) for j in js], -inf, float(d.throughput.max_replicas))
    for site, budget in sorted(cands.site_budget_w.items()):
        js = by_site.get(site, [])
        if js:
            row([(j, configs[j].watts) for j in js], -inf, max(budget, 0.0))
    for circuit, budget in sorted(cands.circuit_budget_w.items()):
        js = by_circuit.get(circuit, [])
        if js:
            row([(j, configs[j].watts) for j in js], -inf, max(budget, 0.0))
    for g, col in keep_col.items():
        row([(col, 1.0)] + [(j, -float(configs[j].n)) for j in by_keep.get(g, [])], -inf, 0.0)

    n_col = len(cost)
    lp = highspy.HighsLp()
    lp.num_col_ = n_col
    lp.num_row_ = len(rows_lo)
    lp.col_cost_ = np.array(cost, dtype=np.float64)
    lp.col_lower_ = np.array(lower, dtype=np.float64)
    lp.col_upper_ = np.array(upper, dtype=np.float64)
    lp.row_lower_ = np.array(rows_lo, dtype=np.float64)
    lp.row_upper_ = np.array(rows_hi, dtype=np.float64)
    lp.sense_ = highspy.ObjSense.kMaximize
    # Column-wise (CSC) matrix: sort entries by column, then row.
    entries.sort(key=lambda e: (e[1], e[0]))
    starts = np.zeros(n_col + 1, dtype=np.int32)
    for _, col, _ in entries:
        starts[col + 1] += 1
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.cumsum(starts).astype(np.int32)
    lp.a_matrix_.index_ = np.array([e[0] for e in entries], dtype=np.int32)
    lp.a_matrix_.value_ = np.array([e[2] for e in entries], dtype=np.float64)
    if relax:
        integral = [0] * len(integral)
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integral
    ]

    h = new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(max(time_limit_s, 0.1)))
    h.setOptionValue("mip_rel_gap", MIP_REL_GAP)
    h.setOptionValue("threads", 1)  # one thread: the same input gives the same plan
    h.setOptionValue("random_seed", 0)
    # HiGHS' presolve spent most of the time limit on the 10,000-GPU model without shrinking it
    # much; these models are sparse and near-integral already.
    h.setOptionValue("presolve", "off")
    h.passModel(lp)
    if warm:
        values = np.zeros(n_col)
        for j, y in warm.items():
            values[j] = y
        h.setSolution(_complete_warm(cands, values, sigma, short, keep_col, keep_groups, prices, targets))
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    result_counts: dict[int, int] = {}
    objective = float("-inf")
    if info.primal_solution_status >= 2:  # feasible
        col_value = h.getSolution().col_value
        # Rounded down: a fractional group is not a group (the small slack lets 2.9999999 be 3).
        result_counts = {j: int(col_value[j] + 1e-6) for j in range(n_y) if int(col_value[j] + 1e-6) > 0}
        if relax:
            _round_up_minimums(cands, result_counts, [float(v) for v in col_value[:n_y]])
        objective = float(info.objective_function_value)
    if relax:
        optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        bound = objective if optimal else float("inf")
    else:
        bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else float("inf")
    reduced = None
    if relax and info.dual_solution_status >= 2:
        col_dual = h.getSolution().col_dual
        reduced = {j: float(col_dual[j]) for j in range(n_y)}
    return MilpResult(result_counts, objective, bound, status, time.perf_counter() - started, reduced)


def _round_up_minimums(cands: Candidates, counts: dict[int, int], values: list[float]) -> None:
    """Rounding an LP point down can leave a deployment below its minimum (a throughput target,
    a minimum replica count) for want of one fractional group: round its largest fractions up."""
    replicas: dict[int, float] = defaultdict(float)
    tokens: dict[int, float] = defaultdict(float)
    fractions: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for j, c in enumerate(cands.configs):
        y = counts.get(j, 0)
        replicas[c.deployment] += c.n * y
        tokens[c.deployment] += c.n * c.tokens_per_s * y
        if values[j] - y > 1e-6:
            fractions[c.deployment].append((values[j] - y, j))
    for di, d in enumerate(cands.demand.deployments):
        for _, j in sorted(fractions[di], reverse=True):
            c = cands.configs[j]
            if d.replicas is not None:
                if replicas[di] >= d.replicas.min:
                    break
            else:
                assert d.throughput is not None
                if tokens[di] >= d.throughput.target_tokens_per_s - 1e-9:
                    break
            counts[j] = counts.get(j, 0) + 1
            replicas[di] += c.n
            tokens[di] += c.n * c.tokens_per_s


def _upper(cands: Candidates, c: Config) -> float:
    """Most groups of c the pool can hold: k-GPU groups per rig, and n-replica groups per rig host."""
    pool = cands.pools[c.pool]
    per_rig = replicas_per_rig(pool, cands.options, c.host_ram_gib) // c.n
    return float(pool.groups_of(c.k, per_rig))


def _host_rows(cands: Candidates, row: Callable[[list[tuple[int, float]], float, float], None]) -> None:
    """Host CPU and RAM per pool (its rigs share one host size), as slots: a replica of config j
    takes 1/m_j of a rig, m_j = how many such replicas one rig hosts (CPU cores, then RAM).
    Mixes with Σ 1/m_j ≤ 1 always fit one rig (RAM Σ h_j ≤ Σ RAM/m_j), so counts map onto rigs."""
    by_pool: dict[int, list[int]] = defaultdict(list)
    for j, c in enumerate(cands.configs):
        by_pool[c.pool].append(j)
    for q, js in sorted(by_pool.items()):
        pool = cands.pools[q]
        terms = []
        for j in js:
            c = cands.configs[j]
            m = replicas_per_rig(pool, cands.options, c.host_ram_gib)
            if m < UNLIMITED:
                terms.append((j, c.n / m))
        if terms:
            row(terms, -inf_(), float(len(pool.members)))


def inf_() -> float:
    return float(highspy.kHighsInf)


def _complete_warm(
    cands: Candidates,
    values: np.ndarray,
    sigma: dict[int, int],
    short: dict[int, int],
    keep_col: dict[KeepGroup, int],
    keep_groups: dict[KeepGroup, int],
    prices: list[float],
    targets: list[float],
) -> highspy.HighsSolution:
    """Fill the continuous columns of a warm start so HiGHS accepts it as feasible."""
    replicas: dict[int, float] = defaultdict(float)
    tokens: dict[int, float] = defaultdict(float)
    placed_in: dict[KeepGroup, float] = defaultdict(float)
    for j, c in enumerate(cands.configs):
        y = values[j]
        if y:
            replicas[c.deployment] += c.n * y
            tokens[c.deployment] += c.n * c.tokens_per_s * y
            placed_in[(c.deployment, c.pool, c.k, c.n)] += c.n * y
    for di, d in enumerate(cands.demand.deployments):
        if d.replicas is not None:
            values[short[di]] = max(0.0, d.replicas.min - replicas[di])
        else:
            served = min(targets[di], tokens[di])
            values[sigma[di]] = served
            values[short[di]] = max(0.0, (targets[di] - served) / 100)
    for g, col in keep_col.items():
        values[col] = min(keep_groups[g], placed_in[g])
    solution = highspy.HighsSolution()
    solution.col_value = values.tolist()
    solution.value_valid = True
    return solution
