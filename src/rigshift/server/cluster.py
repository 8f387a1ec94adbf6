"""Wire the control plane to the data plane: Ray head (token auth), replica manager, action log.

`rigshift server` and `rigshift up` call `start_cluster_plane`; everything Ray-specific lives in
`rigshift.run` (the data plane). The control plane only records the manager's actions in its
database and hands the manager's `ReplicaDirectory` to the gateway.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rigshift.fleet.model import Rig
from rigshift.run.labels import rig_labels
from rigshift.run.manager import ActionRecord, ReplicaManager
from rigshift.run.ray_cluster import (
    NAMESPACE,
    HeadNode,
    RayCluster,
    connect,
    start_head,
    use_token_in_this_process,
)
from rigshift.run.replica_actor import RunnerSettings
from rigshift.run.spec import ReplicaSpec
from rigshift.server.demo_models import DEMO_MODEL, LOCAL_RIG, demo_specs
from rigshift.server.stores.deployments import Action, DeploymentLog

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["DEMO_MODEL", "ClusterPlane", "demo_specs", "start_cluster_plane", "start_local_plane"]


@dataclass
class ClusterPlane:
    head: HeadNode
    manager: ReplicaManager

    def close(self, *, stop_replicas: bool) -> None:
        self.manager.close(stop_replicas=stop_replicas)


def action_logger(log: DeploymentLog, manager_ref: list[ReplicaManager]) -> Callable[[ActionRecord], None]:
    """`on_action` callback: every start/stop/move with its reason goes to the actions table."""

    def record(action: ActionRecord) -> None:
        deployments = {s.replica_id: s.deployment for s in (manager_ref[0].desired if manager_ref else [])}
        reason = action.reason if action.outcome == "ok" else f"{action.reason} (failed: {action.outcome})"
        if action.from_rig and action.rig and action.from_rig != action.rig:
            reason += f" [{action.from_rig} -> {action.rig}]"
        log.record_action(
            Action(action.at, deployments.get(action.replica_id, "?"), action.replica_id, action.kind, reason)
        )

    return record


def start_cluster_plane(
    token: str,
    engine: Engine,
    workdir: Path,
    *,
    ray_port: int = 6380,
    ray_temp_dir: str | None = None,
    threads: int | None = None,
    store_url: str | None = None,
    desired: Sequence[ReplicaSpec] = (),
) -> ClusterPlane:
    """`rigshift server`: start (or reuse) the Ray head as daemons, with token auth, and run the
    replica manager against it. Head and replicas outlive this process, so a restarted server
    finds its replicas still serving."""
    head = start_head(token, port=ray_port, labels={"rigshift.io/role": "head"}, temp_dir=ray_temp_dir)
    connect(head.address, token)
    return _with_manager(head, engine, workdir, threads, store_url, desired)


def start_local_plane(
    token: str, engine: Engine, workdir: Path, *, threads: int | None = None
) -> ClusterPlane:
    """`rigshift up`: a Ray cluster owned by this process (it ends with it), token auth on, whose
    only node is also a CPU-only rig named "local", so no separate agent process is needed."""
    import ray

    use_token_in_this_process(token)
    bind_ray_to_loopback()
    labels = {"rigshift.io/role": "head", **rig_labels(Rig(name=LOCAL_RIG, site=LOCAL_RIG, gpus=[]))}
    if not ray.is_initialized():
        ray.init(
            address="local",  # always a new cluster: never attach to someone else's on this machine
            _node_ip_address="127.0.0.1",
            num_cpus=os.cpu_count() or 2,
            labels=labels,
            namespace=NAMESPACE,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    return _with_manager(HeadNode("local", token), engine, workdir, threads)


def bind_ray_to_loopback() -> None:
    """Make a one-machine Ray cluster listen on 127.0.0.1 only (GCS, raylet, metrics agent).

    Ray resolves "127.0.0.1" to the machine's outward address unless it believes it runs a
    single-machine cluster, which it decides from `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER` (read at
    import: set in the environment for Ray's own processes, and on the loaded module for this one).
    Checked with `ss -ltnp`: every socket of such a cluster is bound to 127.0.0.1.
    """
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False


def stored_with_adapters(desired: Sequence[ReplicaSpec], engine: Engine) -> list[ReplicaSpec]:
    """The stored plan with each replica's adapters, as the replicas running it were started
    (plans are stored without them): a restarted server adopts them instead of restarting them."""
    from rigshift.run.adapter_placement import place_adapters
    from rigshift.server.adapters_setup import adapter_refs
    from rigshift.server.stores.adapters import AdapterStore

    return place_adapters(desired, adapter_refs(AdapterStore(engine).every()))


def _with_manager(
    head: HeadNode,
    engine: Engine,
    workdir: Path,
    threads: int | None,
    store_url: str | None = None,
    desired: Sequence[ReplicaSpec] = (),
) -> ClusterPlane:
    # Ray imports pydantic.v1 lazily when it first serialises actor arguments; doing that on the
    # manager's thread while the main thread is still importing races in the import system.
    import pydantic.v1  # noqa: F401

    settings = RunnerSettings(
        cache_dir=str(workdir / "models"), log_dir=str(workdir / "logs"), threads=threads
    )
    manager_ref: list[ReplicaManager] = []
    manager = ReplicaManager(
        RayCluster(settings), on_action=action_logger(DeploymentLog(engine), manager_ref)
    )
    manager_ref.append(manager)
    if desired:
        # Before the first tick: a restarted server must adopt the replicas still running for its
        # stored plan, not see an empty plan and stop them (seen as stop + start in the action log).
        manager.apply(stored_with_adapters(desired, engine))
    manager.start()
    return ClusterPlane(head, manager)
