"""Desired replicas vs what runs → the actions that make them equal, each with its reason.

Pure: no Ray, no clock. The manager observes the cluster, calls `reconcile`, applies the actions
and records them (with their reasons) for the operator and the control plane's audit log.

Rules, in order, per replica id:
* desired, not running                        → start   ("new in plan")
* running, not desired                        → stop    ("removed from plan")
* running on a rig that left the cluster      → start elsewhere via `replace_lost` ("rig X lost")
* running, actor dead                          → start   ("actor died: …")
* running with another spec or rig             → move    (stop + start, "spec changed" / "moved")
* desired on a rig that is not in the cluster → wait    (nothing can run there; re-placed below)

`replace_lost` re-places replicas whose rig is gone onto live rigs with enough GPUs, least
loaded first, so serving capacity comes back before the planner runs again; the next full plan
(with the lost rig marked offline) may then move them to a better place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from rigshift.run.spec import ReplicaSpec

ActionKind = Literal["start", "stop", "move", "wait"]


@dataclass(frozen=True)
class ObservedReplica:
    replica_id: str
    rig: str
    fingerprint: str
    alive: bool  # the actor answers
    state: str = "starting"  # the backend's state as the actor reports it
    error: str | None = None


@dataclass(frozen=True)
class RigCapacity:
    """What a live rig offers to re-placement: its GPU count and models (from its node labels)."""

    rig: str
    gpu_models: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    replica_id: str
    reason: str
    spec: ReplicaSpec | None = None  # for start/move: what to run
    from_rig: str | None = None  # for stop/move: where it runs now


def reconcile(
    desired: Iterable[ReplicaSpec],
    observed: Iterable[ObservedReplica],
    live_rigs: Iterable[str],
) -> list[Action]:
    """The actions that turn `observed` into `desired`, sorted stops first (free GPUs first)."""
    want = {s.replica_id: s for s in desired}
    have = {o.replica_id: o for o in observed}
    live = set(live_rigs)
    actions: list[Action] = []
    for rid, gone in sorted(have.items()):
        if rid not in want:
            actions.append(Action("stop", rid, "removed from plan", from_rig=gone.rig))
    for rid, spec in sorted(want.items()):
        obs = have.get(rid)
        if spec.rig not in live:
            actions.append(Action("wait", rid, f"rig {spec.rig} is not in the cluster", spec))
            continue
        if obs is None:
            actions.append(Action("start", rid, "new in plan", spec))
        elif not obs.alive:
            why = f"rig {obs.rig} lost" if obs.rig not in live else f"actor died: {obs.error or 'no answer'}"
            actions.append(Action("start", rid, why, spec, from_rig=obs.rig))
        elif obs.rig not in live:  # Ray has not yet noticed the node is gone: the actor only looks alive
            actions.append(Action("move", rid, f"rig {obs.rig} lost", spec, obs.rig))
        elif obs.rig != spec.rig:
            actions.append(Action("move", rid, f"moved from {obs.rig} to {spec.rig}", spec, obs.rig))
        elif obs.fingerprint != spec.fingerprint():
            actions.append(Action("move", rid, "spec changed (model, context, slots or GPUs)", spec, obs.rig))
    order = {"stop": 0, "move": 1, "start": 2, "wait": 3}
    return sorted(actions, key=lambda a: (order[a.kind], a.replica_id))


def replace_lost(
    desired: Iterable[ReplicaSpec],
    live: Mapping[str, RigCapacity],
    avoid: Collection[str] = (),
) -> tuple[list[ReplicaSpec], list[Action]]:
    """Move replicas planned on rigs that are not live onto live rigs that can take them; rigs
    in `avoid` (drained by an operator) keep what they run but take no replica from elsewhere.

    A replacement rig must have at least as many GPUs as the replica uses, and the same GPU
    models when the replica named GPUs (so the plan's context and split still fit); CPU replicas
    go anywhere. Among those, the rig with the fewest replicas (then by name) wins. Returns the
    new desired list and one `wait` action per replica that found no home.
    """
    specs = list(desired)
    load: dict[str, int] = dict.fromkeys(live, 0)
    for s in specs:
        if s.rig in load:
            load[s.rig] += 1
    result: list[ReplicaSpec] = []
    waits: list[Action] = []
    for spec in specs:
        if spec.rig in live:
            result.append(spec)
            continue
        options = [
            rig
            for rig, cap in live.items()
            if rig not in avoid
            and len(cap.gpu_models) >= len(spec.gpu_indices)
            and (not spec.gpu_indices or _fits_models(spec.gpu_models, cap.gpu_models))
        ]
        if not options:
            waits.append(
                Action("wait", spec.replica_id, f"rig {spec.rig} lost and no live rig can take it", spec)
            )
            result.append(spec)
            continue
        target = min(options, key=lambda r: (load[r], r))
        load[target] += 1
        gpus = spec.gpu_indices and tuple(_pick_gpus(spec, live[target].gpu_models))
        labels = {**spec.labels, "rigshift.io/replaced-from": spec.rig}
        result.append(dataclasses.replace(spec, rig=target, gpu_indices=gpus or (), labels=labels))
    return result, waits


def _fits_models(wanted: tuple[str, ...], available: tuple[str, ...]) -> bool:
    """Every wanted model (with multiplicity) is among the rig's GPUs; unknown wanted → count only."""
    pool = list(available)
    for model in wanted:
        if model not in pool:
            return False
        pool.remove(model)
    return True


def _pick_gpus(spec: ReplicaSpec, available: tuple[str, ...]) -> list[int]:
    """GPU indices on the new rig: the same models in order when known, else the first N."""
    taken: list[int] = []
    for model in spec.gpu_models:
        idx = next(i for i, m in enumerate(available) if m == model and i not in taken)
        taken.append(idx)
    rest = [i for i in range(len(available)) if i not in taken]
    return (taken + rest)[: len(spec.gpu_indices)]
