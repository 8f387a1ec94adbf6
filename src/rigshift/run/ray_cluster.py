"""The Ray seam: start or join a cluster with token auth, and run replica actors on rigs.

Token authentication: every Ray process of a rigshift cluster runs with `RAY_AUTH_MODE=token` and
`RAY_AUTH_TOKEN=<join token>`, so a node (or driver) without the join token cannot join or
submit work. The same token authenticates agents to the control plane's HTTP endpoints.

`RayCluster` is the adapter the `ReplicaManager` drives (its `ClusterPort`); tests of the manager
use an in-memory fake with the same methods.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from rigshift.errors import BackendError, EnvironmentProblem
from rigshift.run.labels import capacity_from_labels, labels_as_cli
from rigshift.run.reconcile import ObservedReplica, RigCapacity
from rigshift.run.replica_actor import ReplicaRunner, RunnerSettings
from rigshift.run.spec import LABEL_RIG, ReplicaSpec, to_dict

NAMESPACE = "rigshift"
ACTOR_PREFIX = "replica:"


def auth_env(token: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["RAY_AUTH_MODE"] = "token"
    env["RAY_AUTH_TOKEN"] = token
    env.pop("RAY_AUTH_TOKEN_PATH", None)
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    return env


def use_token_in_this_process(token: str) -> None:
    """Ray reads the token from the environment of the process that calls ray.init.

    Ray caches its auth mode when `ray._raylet` loads; if it is already loaded (tests, or a
    server that imported Ray early), the cache is reset so the new mode and token take effect.
    """
    os.environ.update(auth_env(token, {}))
    os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
    if "ray._raylet" in sys.modules:
        from ray._private.authentication_test_utils import reset_auth_token_state

        reset_auth_token_state()


def _ray_cli() -> list[str]:
    exe = shutil.which("ray", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if exe is None:
        raise EnvironmentProblem("the `ray` command is not installed (pip install 'ray[default]')")
    return [exe]


@dataclass(frozen=True)
class HeadNode:
    address: str  # "127.0.0.1:6380", what agents pass to `ray start --address`
    token: str
    temp_dir: str | None = None


def start_head(
    token: str,
    *,
    host: str | None = None,
    port: int = 6380,
    labels: Mapping[str, str] | None = None,
    num_cpus: int | None = None,
    temp_dir: str | None = None,
    timeout_s: float = 60,
) -> HeadNode:
    """`ray start --head` as its own daemon processes, so the cluster (and every replica on it)
    survives a restart of the control plane. Idempotent: a running head on that port is reused.

    `host` None lets Ray pick this machine's address (Ray rewrites 127.0.0.1 to it anyway when a
    driver connects, so forcing loopback breaks single-machine use); traffic stays on the host.
    """
    cmd = [*_ray_cli(), "start", "--head", f"--port={port}"]
    if host:
        cmd.append(f"--node-ip-address={host}")
    cmd += ["--include-dashboard=false", "--disable-usage-stats"]
    if labels:
        cmd.append(f"--labels={labels_as_cli(dict(labels))}")
    if num_cpus is not None:
        cmd.append(f"--num-cpus={num_cpus}")
    if temp_dir:
        cmd.append(f"--temp-dir={temp_dir}")
    result = subprocess.run(cmd, env=auth_env(token), capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0 and "already" not in (result.stderr + result.stdout).lower():
        raise BackendError(f"ray start --head failed: {_last_line(result.stderr or result.stdout)}")
    return HeadNode(f"{host or _this_node_ip()}:{port}", token, temp_dir)


def _this_node_ip() -> str:
    import ray

    return str(ray.util.get_node_ip_address())


def join_command(address: str, labels: Mapping[str, str], num_cpus: int | None = None) -> list[str]:
    """The `ray start` line an agent runs to join (blocking: the agent supervises it)."""
    cmd = [*_ray_cli(), "start", f"--address={address}", "--block", "--disable-usage-stats"]
    if labels:
        cmd.append(f"--labels={labels_as_cli(dict(labels))}")
    if num_cpus is not None:
        cmd.append(f"--num-cpus={num_cpus}")
    return cmd


def connect(address: str, token: str) -> None:
    """Attach this process to the cluster as a driver, with the token."""
    import ray

    use_token_in_this_process(token)
    if ray.is_initialized():
        return
    ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, logging_level=logging.WARNING)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


class RayCluster:
    """ClusterPort over a connected Ray driver (call `connect` or `ray.init` first)."""

    def __init__(self, settings: RunnerSettings | None = None, observe_timeout_s: float = 2.0):
        import ray

        self._ray = ray
        self.settings = settings or RunnerSettings()
        self.observe_timeout_s = observe_timeout_s
        self._actor_class = ray.remote(ReplicaRunner)
        self._handles: dict[str, Any] = {}
        self._rigs: dict[str, str] = {}  # replica id -> rig, as started (for dead actors)
        self._fingerprints: dict[str, str] = {}
        self._discover()

    def _discover(self) -> None:
        """Find replica actors that outlived a previous control plane process."""
        try:
            named = self._ray.util.list_named_actors(all_namespaces=True)
        except Exception:  # an older Ray without all_namespaces: start fresh
            return
        for entry in named:
            if entry.get("namespace") != NAMESPACE or not entry["name"].startswith(ACTOR_PREFIX):
                continue
            try:
                handle = self._ray.get_actor(entry["name"], namespace=NAMESPACE)
            except ValueError:
                continue
            self._handles[entry["name"][len(ACTOR_PREFIX) :]] = handle

    def live_rigs(self) -> dict[str, RigCapacity]:
        rigs: dict[str, RigCapacity] = {}
        for node in self._ray.nodes():
            if not node.get("Alive"):
                continue
            cap = capacity_from_labels(dict(node.get("Labels") or {}))
            if cap is not None:
                rigs[cap.rig] = cap
        return rigs

    def observe(self) -> tuple[list[ObservedReplica], dict[str, dict[str, Any]]]:
        """Ask every actor for its info at once; an actor that died is `alive=False`."""
        ray = self._ray
        refs = {rid: h.info.remote() for rid, h in self._handles.items()}
        if refs:
            ray.wait(list(refs.values()), num_returns=len(refs), timeout=self.observe_timeout_s)
        observed: list[ObservedReplica] = []
        infos: dict[str, dict[str, Any]] = {}
        for rid, ref in refs.items():
            try:
                info = ray.get(ref, timeout=0.01)
            except ray.exceptions.GetTimeoutError:
                # Still constructing (copying a model) or busy: alive, not ready.
                spec_rig = self._spec_rig(rid)
                observed.append(
                    ObservedReplica(rid, spec_rig, self._fingerprints.get(rid, ""), True, "starting")
                )
                continue
            except ray.exceptions.RayError as error:
                observed.append(
                    ObservedReplica(rid, self._spec_rig(rid), "", False, "unhealthy", _short_error(error))
                )
                continue
            infos[rid] = info
            observed.append(
                ObservedReplica(rid, info["rig"], info["fingerprint"], True, info["state"], info.get("error"))
            )
        return observed, infos

    def _spec_rig(self, replica_id: str) -> str:
        return self._rigs.get(replica_id, "?")

    def start(self, spec: ReplicaSpec) -> None:
        self.stop(spec.replica_id)  # a dead or outdated actor under the same name
        name = ACTOR_PREFIX + spec.replica_id
        handle = self._actor_class.options(
            name=name,
            namespace=NAMESPACE,
            lifetime="detached",
            num_cpus=0,
            max_restarts=0,  # the reconciler decides where a dead replica goes, not Ray
            label_selector={LABEL_RIG: spec.rig},
            max_concurrency=8,  # info() must answer while another call waits
        ).remote(to_dict(spec), asdict(self.settings), None)
        self._handles[spec.replica_id] = handle
        self._rigs[spec.replica_id] = spec.rig
        self._fingerprints[spec.replica_id] = spec.fingerprint()

    def stop(self, replica_id: str) -> None:
        handle = self._handles.pop(replica_id, None)
        if handle is None:
            return
        ray = self._ray
        with contextlib.suppress(ray.exceptions.RayError):  # already dead: nothing to stop
            ray.get(handle.stop.remote(), timeout=10)
        with contextlib.suppress(Exception):  # already gone
            ray.kill(handle, no_restart=True)
        # Wait until the name is free so a start right after does not collide.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                ray.get_actor(ACTOR_PREFIX + replica_id, namespace=NAMESPACE)
            except ValueError:
                return
            time.sleep(0.1)

    def kill_backend(self, replica_id: str) -> int | None:
        handle = self._handles.get(replica_id)
        return None if handle is None else self._ray.get(handle.kill_backend.remote(), timeout=10)

    def check_now(self, replica_id: str) -> None:
        handle = self._handles.get(replica_id)
        if handle is not None:
            handle.check_now.remote()  # fire and forget: the next observe sees the result


def _short_error(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
