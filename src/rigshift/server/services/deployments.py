"""The desired plan (replica specs), the replicas the data plane runs, and the reconciler's log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, Protocol

import anyio.to_thread

from rigshift.run.contracts import ReplicaDirectory, ReplicaEndpoint
from rigshift.run.spec import ReplicaSpec
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
    ):
        self.log = log
        self.directory = directory
        self.outstanding = outstanding
        self.clock = clock
        self.manager = manager

    def desired(self) -> list[ReplicaSpec]:
        return self.manager.desired if self.manager is not None else []

    async def apply(self, specs: list[ReplicaSpec]) -> list[ReplicaSpec]:
        """Store the plan, then hand it to the reconciler; a refused plan changes nothing."""
        if self.manager is None:
            raise Conflict(
                "this server runs fixed --backend replicas; it has no cluster to deploy to", code="no_cluster"
            )
        ids = [s.replica_id for s in specs]
        if len(set(ids)) != len(ids):
            raise BadRequest("replica ids in a plan must be unique", code="invalid_specs", param="replica_id")
        await anyio.to_thread.run_sync(lambda: self.log.save_desired(specs, self.clock()))
        self.manager.apply(specs)
        return specs

    async def actions(self, limit: int) -> list[Action]:
        return await anyio.to_thread.run_sync(lambda: self.log.actions(limit=limit))

    def replicas(self) -> list[dict[str, Any]]:
        return [
            {**asdict(r), "outstanding": self.outstanding.get(r.replica_id, 0)}
            for r in all_replicas(self.directory)
        ]
