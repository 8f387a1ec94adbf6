"""From fleet × demand to the candidate configurations the solver chooses between.

GPUStack's shape: filters (each returns what it rejected and why, with counts) → fitters (the
estimator says how many GPUs of a kind one replica needs, and how fast it runs) → the solver's
objective as the scorer.

The key to scale: identical GPUs (same card, free VRAM, link, power limits, site, circuit,
labels) are aggregated into *pools*; a configuration is (deployment, pool, GPUs per replica,
replicas per GPU, power cap), and the estimator runs once per distinct (workload, slot) key.
10,000 GPUs of a typical farm collapse into a few dozen pools.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.model_spec import ModelSpec
from rigshift.errors import InputError, Problem
from rigshift.estimate.memory import GIB
from rigshift.estimate.power import serving_power_w, speed_factor_at_power_limit
from rigshift.estimate.quants import quant_recipe
from rigshift.estimate.tensors import weight_bytes
from rigshift.estimate.types import Estimate, GpuSlot, Hardware, PcieLink, SplitMode, Workload
from rigshift.fleet.model import Fleet, Gpu, Rig
from rigshift.hosts import HostCapacity, capacity_for_replica_ram
from rigshift.plan.demand import Demand, Deployment
from rigshift.plan.types import PlanOptions
from rigshift.suggest import did_you_mean
from rigshift.toolkit import Toolkit

UNASSESSED = "unassessed (card not in the catalog)"
FREE_VRAM_STEP_GIB = 0.25  # free VRAM is floored to this step so near-identical GPUs share a pool


@dataclass(frozen=True)
class SlotKey:
    """What makes two GPUs interchangeable for placement."""

    site: str
    circuit: str | None
    gpu_model: str
    free_gib: float  # after other processes and the reserve, floored to FREE_VRAM_STEP_GIB
    link: tuple[int, int] | None
    power_default_w: float
    power_min_w: float | None
    power_max_w: float | None
    labels: tuple[tuple[str, str], ...]
    host: tuple[int | None, float | None, float | None] = (None, None, None)  # cores, RAM, disk (GiB)
    rig_gpus: int = 0  # GPUs of this kind on each rig of the pool
    beside_miner: bool = False  # a miner keeps running on these GPUs (options.beside_miner: "derate")
    miner_stopped: bool = False  # a miner ran here and the plan stops it (options.beside_miner: "stop_miner")


@dataclass
class Pool:
    key: SlotKey
    spec: GpuSpec
    members: dict[int, list[int]] = field(default_factory=dict)  # rig index -> GPU positions

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.members.values())

    def groups_of(self, k: int, per_rig: int | None = None) -> int:
        """How many disjoint k-GPU groups fit, rig by rig (a replica never splits across rigs),
        at most `per_rig` on one rig (what its host can serve)."""
        if per_rig is None:
            return sum(len(p) // k for p in self.members.values())
        return sum(min(len(p) // k, per_rig) for p in self.members.values())

    @property
    def max_per_rig(self) -> int:
        return max((len(p) for p in self.members.values()), default=0)


@dataclass(frozen=True)
class Config:
    """One way to serve a deployment on a pool: `k` GPUs per group, `n` replicas per group."""

    deployment: int
    pool: int
    k: int
    n: int
    cap_fraction: float
    cap_w: float  # power limit per GPU
    serving_w: float  # draw per GPU while serving
    watts: float  # per group at peak (the cap), over the GPUs' leftover draw: what budgets hold
    tokens_per_s: float  # per replica, all parallel streams
    revenue: float  # $/h per replica (0 for throughput deployments: paid through `served`)
    power_cost: float  # $/h per group
    host_ram_gib: float  # per replica
    runtime: str
    split_mode: str
    vram_per_gpu_gib: float

    @property
    def value_per_group(self) -> float:
        return self.n * self.revenue - self.power_cost


@dataclass
class Rejections:
    """Per deployment: filter name -> (GPUs rejected, message). Insertion order is filter order."""

    by_filter: dict[str, tuple[int, str]] = field(default_factory=dict)

    def add(self, name: str, count: int, message: str) -> None:
        if count <= 0:
            return
        old = self.by_filter.get(name, (0, message))[0]
        self.by_filter[name] = (old + count, message)


@dataclass
class Candidates:
    fleet: Fleet
    demand: Demand
    options: PlanOptions
    models: list[ModelSpec]
    pools: list[Pool]
    configs: list[Config]
    rejections: list[Rejections]  # per deployment
    site_budget_w: dict[str, float]  # serving watts available per site (budget less fixed load)
    circuit_budget_w: dict[str, float]
    fixed_w_by_site: dict[str, float]
    leftover_w: dict[int, float]  # per pool: a leftover GPU's draw under the policy
    unusable: dict[str, int]  # GPUs no deployment may use, by reason
    unassessed: dict[str, int]  # cards the catalog does not know, by the name the inventory gave
    rig_index: dict[str, int]


def _gpu_labels(rig: Rig, gpu: Gpu, keys: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """Only labels some deployment asks about: the rest would split pools for nothing."""
    return tuple(sorted((k, v) for k, v in {**rig.labels, **gpu.labels}.items() if k in keys))


def _default_power(gpu: Gpu, spec: GpuSpec) -> float:
    if gpu.power and gpu.power.default:
        return gpu.power.default
    return spec.tdp_w


def leftover_draw(options: PlanOptions, spec: GpuSpec) -> float:
    if options.leftover == "idle":
        return options.idle_watts_fraction * spec.tdp_w
    return 0.0  # "off" draws nothing; "mining" takes only budget the serving plan leaves


def build_pools(
    fleet: Fleet,
    tools: Toolkit,
    options: PlanOptions,
    label_keys: frozenset[str] = frozenset(),
    unassessed: dict[str, int] | None = None,
    disk_enough_gib: float = math.inf,
) -> tuple[list[Pool], dict[str, int], dict[str, float]]:
    """Group usable GPUs into pools; returns (pools, unusable GPUs by reason, mining watts by site).
    Cards the catalog does not know are counted into `unassessed` by their reported name."""
    pools: dict[SlotKey, Pool] = {}
    unusable: dict[str, int] = defaultdict(int)
    specs: dict[str, GpuSpec | None] = {}
    reserved_w: dict[str, float] = defaultdict(float)
    rig_slots: dict[int, list[tuple[int, SlotKey, GpuSpec]]] = {}
    for r, rig in enumerate(fleet.rigs):
        for position, gpu in enumerate(rig.gpus):
            if gpu.model not in specs:
                specs[gpu.model] = tools.gpu(gpu.model)
            spec = specs[gpu.model]
            if spec is None:
                unusable[UNASSESSED] += 1
                if unassessed is not None:
                    name = gpu.reported_name or gpu.model
                    unassessed[name] = unassessed.get(name, 0) + 1
                continue
            if gpu.reserved_for_mining:
                unusable["reserved for mining"] += 1
                reserved_w[rig.site] += options.mining_watts_fraction * _default_power(gpu, spec)
                continue
            if gpu.temperature_c is not None and gpu.temperature_c > options.max_temperature_c:
                unusable[f"hotter than {options.max_temperature_c:g} °C"] += 1
                continue
            # A miner beside a replica: stopped (its VRAM freed), or left running and the replica derated.
            miner = gpu.miner_running or gpu.vram_used_by_others_gib > 0
            stop = miner and options.beside_miner == "stop_miner"
            held = 0.0 if stop else gpu.vram_used_by_others_gib
            free = gpu.vram_gib - held - options.vram_reserve_gib
            free = math.floor(free / FREE_VRAM_STEP_GIB) * FREE_VRAM_STEP_GIB
            if free <= 0:
                unusable["no free VRAM"] += 1
                continue
            power = gpu.power
            slot = SlotKey(
                site=rig.site,
                circuit=rig.labels.get("circuit") if options.circuit_power_kw else None,
                gpu_model=gpu.model,
                free_gib=free,
                link=(gpu.pcie.gen, gpu.pcie.width) if gpu.pcie else None,
                power_default_w=_default_power(gpu, spec),
                power_min_w=power.min if power else None,
                power_max_w=power.max if power else None,
                labels=_gpu_labels(rig, gpu, label_keys),
                beside_miner=miner and not stop,
                miner_stopped=stop,
            )
            rig_slots.setdefault(r, []).append((position, slot, spec))
    # A pool is one slot type on rigs with one host size (CPU cores, RAM), so the per-rig host
    # limits add up over a pool's rigs (exactly, when a rig's GPUs all sit in one pool).
    for r, slots in rig_slots.items():
        rig = fleet.rigs[r]
        per_slot = Counter(slot for _, slot, _ in slots)
        for position, slot, spec in slots:
            # Rigs in one pool also hold the same number of such GPUs: then every rig of a pool
            # can take the same mix of groups, and the pool's totals are nearly exact.
            # A disk that holds every demanded model file limits nothing: such rigs share pools.
            disk = rig.disk_gib if rig.disk_gib is not None and rig.disk_gib < disk_enough_gib else None
            key = replace(slot, host=(rig.cpu_cores, rig.ram_gib, disk), rig_gpus=per_slot[slot])
            pool = pools.setdefault(key, Pool(key=key, spec=spec))
            pool.members.setdefault(r, []).append(position)
    ordered = sorted(
        pools.values(), key=lambda p: (p.key.site, p.key.gpu_model, -p.key.free_gib, repr(p.key))
    )
    return ordered, dict(unusable), dict(reserved_w)


def _hardware(pool: Pool, k: int, split_mode: str, used_gib: float | None = None) -> Hardware:
    spec = pool.spec
    if used_gib is None:  # others + reserve + the step rounding, as one figure
        used_gib = max(spec.vram_gib - pool.key.free_gib, 0.0)
    # On one GPU the link only sets the load time, which the plan does not price: leaving it out
    # of the key lets pools on x1 risers and x16 slots share one estimate.
    link = PcieLink(*pool.key.link) if pool.key.link and k > 1 else None
    slot = GpuSlot(spec=spec, link=link, used_by_others_gib=used_gib)
    mode: SplitMode = "tensor" if split_mode == "tensor" else "layer"
    return Hardware(gpus=(slot,) * k, split_mode=mode)


def _cap_levels(pool: Pool, options: PlanOptions, tight: bool) -> list[tuple[float, float | None]]:
    """(fraction, watts) caps to offer the solver; None watts = the card's default limit.

    Where the site's (or circuit's) budget cannot feed every GPU at its default limit, the cap
    with the most tokens per joule is offered besides the default; elsewhere a cap only loses
    tokens. Offering every level would multiply the integer program for little gain.
    """
    if not tight:
        return [(1.0, None)]
    best: tuple[float, float | None] = (1.0, None)
    best_tpj = speed_factor_at_power_limit(pool.spec, None) / serving_power_w(
        pool.spec, pool.key.power_default_w
    )
    for fraction in sorted(set(options.power_cap_fractions), reverse=True):
        watts = pool.key.power_default_w * fraction
        if fraction >= 1.0 or (pool.key.power_min_w is not None and watts < pool.key.power_min_w):
            continue
        tpj = speed_factor_at_power_limit(pool.spec, watts) / serving_power_w(pool.spec, watts)
        if tpj > best_tpj:
            best, best_tpj = (fraction, round(watts, 1)), tpj
    return [(1.0, None)] if best[1] is None else [(1.0, None), best]


def host_capacity_of(
    pool: Pool, options: PlanOptions, host_ram_gib: float, model_file_gib: float = 0.0
) -> HostCapacity:
    """The shared host rule (rigshift.hosts) for one rig of the pool; `host_ram_gib` is a
    replica's whole host RAM (`Config.host_ram_gib`)."""
    cores, ram, disk = pool.key.host
    return capacity_for_replica_ram(
        cores, ram, host_ram_gib, options.host(), disk_gib=disk, model_file_gib=model_file_gib
    )


def replicas_per_rig(pool: Pool, options: PlanOptions, host_ram_gib: float) -> int:
    """How many replicas of this size one rig of the pool can host (CPU cores, then RAM)."""
    return host_capacity_of(pool, options, host_ram_gib).replicas


def effective_tps(
    deployment: Deployment, est: Estimate, decode_factor: float, prefill_factor: float
) -> float:
    """Output tokens/s one replica delivers at a power cap; a request profile also pays for its
    prompt, which takes the replica's time too."""
    tps = est.decode_tokens_per_s_total * decode_factor
    t = deployment.throughput
    if t is None or t.requests_per_s is None or est.decode_tokens_per_s <= 0:
        return tps
    decode_s = t.output_tokens / (est.decode_tokens_per_s * decode_factor)
    prefill = est.prefill_tokens_per_s * prefill_factor
    prefill_s = t.prompt_tokens / prefill if prefill > 0 else 0.0
    return tps * decode_s / (decode_s + prefill_s)


def workload_of(deployment: Deployment, model: ModelSpec) -> Workload:
    return Workload(
        model=model,
        quant=deployment.quant,
        context=deployment.context,
        parallel=deployment.parallel,
        kv_type=deployment.kv_type,
        runtime=deployment.runtime,
        prompt_tokens=deployment.throughput.prompt_tokens if deployment.throughput else 512,
    )


def allowed(deployment: Deployment, pool: Pool, rejections: Rejections) -> bool:
    c = deployment.constraints
    size = pool.size
    if c.sites is not None and pool.key.site not in c.sites:
        rejections.add("site", size, f"not at site {'/'.join(c.sites)} (constraints.sites allows more)")
        return False
    labels = dict(pool.key.labels)
    missing = {k: v for k, v in c.labels.items() if labels.get(k) != v}
    if missing:
        shown = ", ".join(f"{k}={v}" for k, v in missing.items())
        rejections.add(
            "labels", size, f"labels {shown} missing (label the rigs, or relax constraints.labels)"
        )
        return False
    if c.gpu_models is not None and pool.key.gpu_model not in c.gpu_models:
        rejections.add("gpu_model", size, "GPU model not in constraints.gpu_models")
        return False
    return True


def _check_names(fleet: Fleet, demand: Demand, tools: Toolkit) -> None:
    """A site or GPU model a constraint names must exist, or it would silently reject everything."""
    sites = sorted({s.name for s in fleet.sites} | {r.site for r in fleet.rigs})
    models = sorted({g.model for _, g in fleet.gpus()})
    problems = []
    for di, d in enumerate(demand.deployments):
        where = f"$.deployments[{di}].constraints ({d.name})"
        for site in d.constraints.sites or []:
            if site not in sites:
                problems.append(
                    Problem(
                        f"no site {site!r} in the fleet",
                        location=where,
                        field="sites",
                        suggestions=did_you_mean(site, sites),
                    )
                )
        for model in d.constraints.gpu_models or []:
            if model not in models and tools.gpu(model) is None:
                problems.append(
                    Problem(
                        f"unknown GPU model {model!r}",
                        location=where,
                        field="gpu_models",
                        expected="a catalog key such as the fleet's GPU models",
                        suggestions=did_you_mean(model, models),
                    )
                )
    if problems:
        raise InputError(problems)


def _largest_file_gib(demand: Demand, models: list[ModelSpec]) -> float:
    """An upper bound of every demanded model's weights (all tensors at its quant), in GiB: a disk
    at least this large never limits the plan."""
    largest = 0.0
    for d, model in zip(demand.deployments, models, strict=True):
        try:
            largest = max(largest, weight_bytes(model, quant_recipe(d.quant)).total / GIB)
        except InputError:  # an unknown quant: reported with its deployment by the fitter
            return math.inf
    return largest


def build_candidates(fleet: Fleet, demand: Demand, options: PlanOptions, tools: Toolkit) -> Candidates:
    models = []
    for di, d in enumerate(demand.deployments):
        try:
            models.append(tools.model(d.model))
        except InputError as error:  # say which deployment names the unknown model
            where = f"$.deployments[{di}] ({d.name})"
            raise InputError([replace(p, location=p.location or where) for p in error.problems]) from None
    _check_names(fleet, demand, tools)
    label_keys = frozenset(k for d in demand.deployments for k in d.constraints.labels)
    unassessed: dict[str, int] = {}
    pools, unusable, reserved_w = build_pools(
        fleet, tools, options, label_keys, unassessed, _largest_file_gib(demand, models)
    )
    site_budget_kw = {s.name: s.power_budget_kw for s in fleet.sites if s.power_budget_kw}
    site_budget_kw.update(options.site_power_kw)
    sites_of_rigs = {rig.site for rig in fleet.rigs}
    fixed: dict[str, float] = defaultdict(float)
    for rig in fleet.rigs:
        fixed[rig.site] += options.host_watts_per_rig
    for pool in pools:
        fixed[pool.key.site] += pool.size * leftover_draw(options, pool.spec)
    for site, watts in reserved_w.items():  # GPUs reserved for mining keep mining
        fixed[site] += watts
    site_budget_w = {
        s: kw * 1000 - fixed.get(s, 0.0) for s, kw in site_budget_kw.items() if s in sites_of_rigs
    }
    circuit_budget_w: dict[str, float] = {}
    for circuit, kw in options.circuit_power_kw.items():
        load = sum(
            options.host_watts_per_rig for rig in fleet.rigs if rig.labels.get("circuit") == circuit
        ) + sum(p.size * leftover_draw(options, p.spec) for p in pools if p.key.circuit == circuit)
        circuit_budget_w[circuit] = kw * 1000 - load
    price = {s.name: (s.power_price_usd_kwh or 0.0) * s.pue for s in fleet.sites}
    # Budgets that bind: the usable GPUs at their default limits would draw more than is left.
    full_site: dict[str, float] = defaultdict(float)
    full_circuit: dict[str, float] = defaultdict(float)
    for pool in pools:
        draw = pool.size * (pool.key.power_default_w - leftover_draw(options, pool.spec))
        full_site[pool.key.site] += draw
        if pool.key.circuit is not None:
            full_circuit[pool.key.circuit] += draw
    tight_sites = {s for s, b in site_budget_w.items() if full_site[s] > b}
    tight_circuits = {c for c, b in circuit_budget_w.items() if full_circuit[c] > b}

    configs: list[Config] = []
    rejections = [Rejections() for _ in demand.deployments]
    for di, (deployment, model) in enumerate(zip(demand.deployments, models, strict=True)):
        rej = rejections[di]
        for name, count in unusable.items():
            rej.add(name, count, name)
        for pi, pool in enumerate(pools):
            if not allowed(deployment, pool, rej):
                continue
            budgeted = pool.key.site in tight_sites or pool.key.circuit in tight_circuits
            try:
                configs.extend(_fit(di, deployment, model, pi, pool, budgeted, options, tools, rej, price))
            except InputError as error:  # an unknown quant or runtime: say which deployment has it
                where = f"$.deployments[{di}] ({deployment.name})"
                raise InputError([replace(p, location=p.location or where) for p in error.problems]) from None
    leftover_w = {pi: leftover_draw(options, p.spec) for pi, p in enumerate(pools)}
    return Candidates(
        fleet=fleet,
        demand=demand,
        options=options,
        models=models,
        pools=pools,
        configs=configs,
        rejections=rejections,
        site_budget_w=site_budget_w,
        circuit_budget_w=circuit_budget_w,
        fixed_w_by_site=dict(fixed),
        leftover_w=leftover_w,
        unusable=unusable,
        unassessed=dict(sorted(unassessed.items(), key=lambda kv: (-kv[1], kv[0]))),
        rig_index={rig.name: i for i, rig in enumerate(fleet.rigs)},
    )


def _fit(
    di: int,
    deployment: Deployment,
    model: ModelSpec,
    pi: int,
    pool: Pool,
    budgeted: bool,
    options: PlanOptions,
    tools: Toolkit,
    rej: Rejections,
    price: dict[str, float],
) -> list[Config]:
    """The fitter: the fewest GPUs of this pool one replica needs (more only adds split cost),
    at each power cap; on one GPU also n replicas sharing it when memory allows."""
    vllm = deployment.runtime == "vllm"
    split_mode = "tensor" if vllm else "layer"
    workload = workload_of(deployment, model)

    def hardware(k: int) -> Hardware:
        return _hardware(pool, k, split_mode if k > 1 else "layer")

    # One GPU: estimate the card empty and compare with this pool's free memory. A single GPU's
    # need does not depend on what others hold (capacity is VRAM less that), so every free-VRAM
    # variant of a card shares this estimate.
    single = tools.estimate(workload, _hardware(pool, 1, "layer", used_gib=0.0))
    used = max(pool.spec.vram_gib - pool.key.free_gib, 0.0)
    need, room = single.memory.per_gpu[0], single.memory.capacity[0]
    chosen: Estimate | None = single if single.fits and need <= room - used + 1e-9 else None
    k_fit = 1 if chosen is not None else 0
    over = need > room - used
    if chosen is None and not over:  # a runtime or context problem: more GPUs will not help
        why = single.reason or "the runtime cannot serve this model here"
        rej.add("runtime", pool.size, f"{why} (another runtime, a smaller context or quant may serve it)")
        return []
    if chosen is None:
        # Jump straight to the GPU count memory calls for, instead of trying every count.
        k = max(2, math.ceil(single.memory.total / max(room - used, 1e-6)))
        if vllm and k <= pool.max_per_rig:
            link = PcieLink(*pool.key.link) if pool.key.link else None
            gbs = link.gbs if link else PcieLink(pool.spec.pcie_gen, pool.spec.pcie_lanes).gbs
            if gbs < options.min_link_gbs_tensor_parallel:
                rej.add(
                    "pcie",
                    pool.size,
                    f"PCIe link {gbs:.2f} GB/s < {options.min_link_gbs_tensor_parallel:g} GB/s for vLLM tensor"
                    " parallel; runtime: llama.cpp (layer split) would serve it",
                )
                return []
        while k <= pool.max_per_rig:
            est = tools.estimate(workload, hardware(k))
            if est.fits:
                chosen, k_fit = est, k
                break
            k += 1
    if chosen is None:
        rej.add(
            "memory",
            pool.size,
            f"{deployment.quant} at {deployment.context // 1024}k context x {deployment.parallel} needs"
            f" {single.memory.total:.1f} GiB; no {pool.spec.name} (or same-rig group of up to"
            f" {pool.max_per_rig}) has it free; a smaller quant or context would fit",
        )
        return []
    configs: list[Config] = []
    host_ram = options.host().replica_ram_gib(chosen.memory.host_ram)
    capacity = host_capacity_of(pool, options, host_ram, chosen.memory.weights)
    if capacity.replicas == 0:
        rej.add(f"host {capacity.limit}", pool.size, f"rig host too small for one replica: {capacity.detail}")
        return []
    floor = options.min_decode_tps if deployment.min_tokens_per_s is None else deployment.min_tokens_per_s
    site_price = price.get(pool.key.site, 0.0)
    leftover = leftover_draw(options, pool.spec)
    v = deployment.value
    for fraction, cap_w in _cap_levels(pool, options, budgeted):
        cap = cap_w if cap_w is not None else pool.key.power_default_w
        # The estimator's own power model: a cap slows the compute-bound share of each phase.
        decode_factor = speed_factor_at_power_limit(pool.spec, cap_w, "decode")
        prefill_factor = speed_factor_at_power_limit(pool.spec, cap_w, "prefill")
        if pool.key.beside_miner:  # the miner streams the same memory: the replica gets a share
            decode_factor *= options.miner_contention_factor
            prefill_factor *= options.miner_contention_factor
        per_gpu_w = serving_power_w(pool.spec, cap, "decode")  # decode leaves cores waiting on memory
        max_n = 1
        if (
            k_fit == 1
            and chosen.memory.total > 0
            and deployment.replicas is not None
            and v.priority is not None
        ):
            # Sharing a card only pays when replicas themselves are valued: n processes each
            # stream their own weights, so they split the card's tokens, not multiply them.
            max_n = max(1, min(options.max_pack_per_gpu, int(pool.key.free_gib // chosen.memory.total)))
        max_n = min(max_n, capacity.replicas)  # the replicas sharing a GPU all live on its rig
        # One stream's speed while all `parallel` streams run: what each user of the replica gets.
        one = chosen.decode_tokens_per_s
        if deployment.parallel > 1:
            one = min(one, chosen.decode_tokens_per_s_total / deployment.parallel)
        per_stream = one * decode_factor
        if per_stream + 1e-9 < floor:
            if fraction >= 1.0:  # uncapped too slow: every cap is slower still
                rej.add(
                    "speed",
                    pool.size,
                    f"{per_stream:.1f} tok/s per stream on {k_fit} × {pool.spec.name} < the"
                    f" {floor:g} tok/s floor (min_tokens_per_s: lower it, or a smaller quant or model)",
                )
                return []
            continue  # this power cap is too slow: the uncapped level stays
        tps = effective_tps(deployment, chosen, decode_factor, prefill_factor)
        for n in range(1, max_n + 1):
            per_replica_tps = tps / n
            revenue = 0.0
            if deployment.replicas is not None:
                revenue = v.per_replica(per_replica_tps, options.replica_utilisation)
            power_cost = k_fit * per_gpu_w / 1000 * site_price
            if deployment.replicas is not None and deployment.replicas.min == 0 and n * revenue <= power_cost:
                continue  # never worth placing, and no minimum asks for it
            configs.append(
                Config(
                    deployment=di,
                    pool=pi,
                    k=k_fit,
                    n=n,
                    cap_fraction=fraction,
                    cap_w=cap,
                    serving_w=per_gpu_w,
                    # budgets hold at peak: a capped GPU never draws more than its cap
                    watts=k_fit * (cap - leftover),
                    tokens_per_s=per_replica_tps,
                    revenue=revenue,
                    power_cost=power_cost,
                    host_ram_gib=host_ram,
                    runtime=chosen.runtime,
                    split_mode=split_mode if k_fit > 1 else "layer",
                    vram_per_gpu_gib=max(chosen.memory.per_gpu, default=0.0),
                )
            )
    return configs
