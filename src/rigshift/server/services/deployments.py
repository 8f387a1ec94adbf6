"""The desired plan (replica specs), the replicas the data plane runs, and the reconciler's log."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, Protocol

import anyio.to_thread

from rigshift.run.contracts import ReplicaDirectory, ReplicaEndpoint
from rigshift.run.spec import ReplicaSpec
from rigshift.server.deployment_checks import RigInventory, plan_problems
from rigshift.server.errors import BadRequest, Conflict
from rigshift.server.stores.deployments import Action, DeploymentLog


class Manager(Protocol):
    """What the API needs of the data plane's `ReplicaManager`."""

    @property
    def desired(self) -> list[ReplicaSpec]: ...

    def apply(self, specs: Sequence[ReplicaSpec]) -> None: ...


def all_replicas(directory: ReplicaDirectory) -> list[ReplicaEndpoint]:
    """Every replica the directory knows; data-plane directories may offer `replicas()` with states."""
    listing = getattr(directory, "replicas", None)
    if callable(listing):
        return list(listing())
    return [r for m in directory.models() for r in directory.ready_replicas(m)]


class DeploymentsService:
    def __init__(
        self,
        log: DeploymentLog,
        directory: ReplicaDirectory,
        outstanding: dict[str, int],
        clock: Callable[[], float],
        manager: Manager | None = None,
        rigs: Callable[[], RigInventory | None] | None = None,
        drained: Callable[[], frozenset[str]] = frozenset,
    ):
        self.log = log
        self.directory = directory
        self.outstanding = outstanding
        self.clock = clock
        self.manager = manager
        self.rigs = rigs  # the rigs a plan may name (deployment_checks.rig_inventory)
        self.drained = drained  # rigs an operator drained: no new replica starts there
        # Adds each replica's LoRA adapters to a plan (adapters_setup.py); stored plans omit them.
        self.place_adapters: Callable[[list[ReplicaSpec]], list[ReplicaSpec]] = list

    def desired(self) -> list[ReplicaSpec]:
        """The plan as submitted: without the adapters the server places (the replicas' `adapters`
        label lists those), so what GET returns can be PUT back."""
        specs = self.manager.desired if self.manager is not None else []
        return [dataclasses.replace(s, adapters=()) if s.adapters else s for s in specs]

    async def apply(self, specs: list[ReplicaSpec]) -> list[ReplicaSpec]:
        """Store the plan, then hand it to the reconciler; a refused plan changes nothing."""
        if self.manager is None:
            raise Conflict(
                "this server runs fixed --backend replicas; it has no cluster to deploy to", code="no_cluster"
            )
        ids = [s.replica_id for s in specs]
        if len(set(ids)) != len(ids):
            raise BadRequest("replica ids in a plan must be unique", code="invalid_specs", param="replica_id")
        rigs = await anyio.to_thread.run_sync(self.rigs) if self.rigs is not None else None
        problems = plan_problems(specs, rigs) + self._on_drained_rigs(specs)
        if problems:
            message = "; ".join(m for m, _ in problems[:5])
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise BadRequest(message + more, code="invalid_specs", param=problems[0][1])
        await anyio.to_thread.run_sync(lambda: self.log.save_desired(specs, self.clock()))
        self.manager.apply(self.place_adapters(specs))
        return specs

    def _on_drained_rigs(self, specs: Sequence[ReplicaSpec]) -> list[tuple[str, str]]:
        """New replicas on a drained rig (one the plan already had may stay: draining stops
        traffic, not the replicas)."""
        drained = self.drained()
        running = {s.replica_id for s in self.desired()}
        return [
            (f"replica {s.replica_id!r}: rig {s.rig!r} is drained (undrain it first)", f"[{i}].rig")
            for i, s in enumerate(specs)
            if s.rig in drained and s.replica_id not in running
        ]

    async def actions(self, limit: int) -> list[Action]:
        return await anyio.to_thread.run_sync(lambda: self.log.actions(limit=limit))

    def replicas(self) -> list[dict[str, Any]]:
        return [
            {**asdict(r), "outstanding": self.outstanding.get(r.replica_id, 0)}
            for r in all_replicas(self.directory)
        ]
