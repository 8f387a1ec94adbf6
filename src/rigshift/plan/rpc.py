"""Cross-rig replicas (llama.cpp RPC): the last resort, only for deployments that allow it.

A model too big for any one rig's free GPUs can still run split over GPUs of several rigs, the
activations crossing the rigs' network (1 GbE by default) every token: slow, and flagged so. This
pass runs after the main plan, on what it left free, for deployments with `same_rig: false` that
are still below their minimum. The estimator prices the network hop (`Hardware.network_gbs`).
The main rig (the one that runs llama-server) pays the replica's CPU and RAM; the others run only
`rpc-server`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rigshift.estimate.power import serving_power_w
from rigshift.estimate.types import GpuSlot, Hardware, PcieLink, Workload
from rigshift.plan.assign import RigState, Tally
from rigshift.plan.candidates import (
    Candidates,
    Rejections,
    allowed,
    effective_tps,
    leftover_draw,
    workload_of,
)
from rigshift.toolkit import Toolkit

MAX_RPC_GPUS = 8


@dataclass(frozen=True)
class CrossRigPlacement:
    deployment: int
    pool: int
    gpus: tuple[tuple[int, int], ...]  # (rig index, GPU position); the first rig runs the server
    tokens_per_s: float
    serving_w: float  # per GPU
    watts: float  # over the leftover draw, all GPUs
    revenue: float  # $/h (replica-count deployments; throughput ones are paid through the target)
    power_cost: float  # $/h
    host_ram_gib: float
    runtime: str
    vram_per_gpu_gib: float

    @property
    def value(self) -> float:
        return self.revenue - self.power_cost


def place_cross_rig(
    cands: Candidates, state: RigState, tally: Tally, tools: Toolkit
) -> list[CrossRigPlacement]:
    out: list[CrossRigPlacement] = []
    price = {s.name: (s.power_price_usd_kwh or 0.0) * s.pue for s in cands.fleet.sites}
    for di, d in enumerate(cands.demand.deployments):
        if d.constraints.same_rig:
            continue
        workload = workload_of(d, cands.models[di])
        pools = [q for q, pool in enumerate(cands.pools) if allowed(d, pool, Rejections())]
        pools.sort(key=lambda q: (-cands.pools[q].key.free_gib, q))
        while tally.below_minimum(di):
            placed = None
            for q in pools:
                placed = _one(cands, state, tools, workload, di, q, price.get(cands.pools[q].key.site, 0.0))
                if placed is not None:
                    break
            if placed is None:
                break
            out.append(placed)
            tally.replicas[di] += 1
            tally.tokens[di] += placed.tokens_per_s
    return out


def _one(
    cands: Candidates,
    state: RigState,
    tools: Toolkit,
    workload: Workload,
    di: int,
    q: int,
    site_price: float,
) -> CrossRigPlacement | None:
    pool = cands.pools[q]
    opts = cands.options
    free = state.free[q]
    rigs = sorted((r for r in free if free[r]), key=lambda r: (-len(free[r]), r))
    if len(rigs) < 2:
        return None
    used = max(pool.spec.vram_gib - pool.key.free_gib, 0.0)
    link = PcieLink(*pool.key.link) if pool.key.link else None
    slot = GpuSlot(spec=pool.spec, link=link, used_by_others_gib=used)
    deployment = cands.demand.deployments[di]
    available = sum(len(free[r]) for r in rigs)
    for k in range(2, min(MAX_RPC_GPUS, available) + 1):
        hardware = Hardware(gpus=(slot,) * k, network_gbs=opts.rpc_network_gbs)
        est = tools.estimate(workload, hardware)
        if not est.fits:
            continue
        host_ram = opts.ram_gib_per_replica + est.memory.host_ram
        main = next(
            (r for r in rigs if state.cpu_left[r] >= 1 and state.ram_left[r] >= host_ram - 1e-9), None
        )
        if main is None:
            return None
        serving = serving_power_w(pool.spec, pool.key.power_default_w, "decode")
        watts = k * (pool.key.power_default_w - leftover_draw(opts, pool.spec))  # at peak
        site, circuit = pool.key.site, pool.key.circuit
        if site in state.site_w and state.site_w[site] < watts:
            return None
        if circuit in state.circuit_w and state.circuit_w[circuit] < watts:
            return None
        gpus: list[tuple[int, int]] = []
        for r in [main] + [r for r in rigs if r != main]:
            for p in free[r]:
                if len(gpus) < k:
                    gpus.append((r, p))
        if len({r for r, _ in gpus}) < 2:
            return None  # all on one rig: the same-rig configurations already had their chance
        tps = effective_tps(deployment, est, 1.0, 1.0)
        v = deployment.value
        revenue = 0.0
        if deployment.replicas is not None:
            revenue = v.per_replica(tps, opts.replica_utilisation)
        state.take_gpus(q, gpus, main, host_ram, watts)
        return CrossRigPlacement(
            deployment=di,
            pool=q,
            gpus=tuple(gpus),
            tokens_per_s=tps,
            serving_w=serving,
            watts=watts,
            revenue=revenue,
            power_cost=k * serving / 1000 * site_price,
            host_ram_gib=host_ram,
            runtime=est.runtime,
            vram_per_gpu_gib=max(est.memory.per_gpu, default=0.0),
        )
    return None
