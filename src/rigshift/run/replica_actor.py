"""The replica: a Ray actor pinned to its rig that runs and supervises one backend process.

The class is plain Python (`ReplicaRunner`); `rigshift.run.ray_cluster` wraps it with
`ray.remote` as a detached, named actor so it outlives the control plane's process: a server
restart reconnects to the same actors and the backends never stop serving.

A runner never raises from its constructor: a missing model or binary becomes state "unhealthy"
with the error, which the manager reports instead of restarting the actor in a tight loop.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rigshift.client.http import ControlPlaneClient
from rigshift.errors import RigshiftError
from rigshift.run.backends import backend_command, backend_env, choose_backend
from rigshift.run.labels import LABEL_ADVERTISE
from rigshift.run.model_cache import ModelCache
from rigshift.run.spec import from_dict
from rigshift.run.supervisor import BackendSupervisor, Process, SupervisorSettings

RIG_CACHE_ENV = "RIGSHIFT_MODEL_CACHE"  # set on a rig's Ray node by `rigshift agent --model-cache`
RIG_SERVER_ENV = "RIGSHIFT_SERVER"  # the control plane URL, set on a rig's node by `rigshift agent`
HEALTH_PATHS = {"llama-server": "/health", "vllm": "/health", "llama-cpp-python": "/v1/models"}


@dataclass(frozen=True)
class RunnerSettings:
    """What every replica on every rig shares; passed from the manager to each actor."""

    store_url: str | None = None  # control plane, for the model store
    token: str | None = None  # join token, for the model store
    cache_dir: str | None = None  # model cache on the rig (default: ~/.cache/rigshift/models)
    log_dir: str | None = None  # backend logs (default: <cache>/../logs)
    bind_host: str = "127.0.0.1"
    advertise_host: str | None = None  # default: bind_host, or the node's advertise label
    threads: int | None = None
    supervisor: dict[str, Any] = field(default_factory=dict)  # SupervisorSettings overrides


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the actor process dies (a lost node leaves no orphans)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: the supervisor's stop() still kills it
        pass


def spawn_tied(log_path: Path) -> Any:
    """Start the backend in its own session, killed with the actor, output appended to a log."""

    def spawn(argv: Sequence[str], env: dict[str, str]) -> Process:
        with open(log_path, "ab") as out:
            return subprocess.Popen(
                list(argv),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    return spawn


def _current_node_labels() -> dict[str, str]:
    """The labels of the Ray node this actor runs on ({} outside Ray)."""
    try:
        import ray

        labels = ray.get_runtime_context().get_node_labels()
        return {str(k): str(v) for k, v in labels.items()}
    except Exception:  # not inside a Ray worker
        return {}


class ReplicaRunner:
    def __init__(self, spec: dict[str, Any], settings: dict[str, Any], node_labels: dict[str, str] | None):
        self.spec = from_dict(spec)
        self.settings = RunnerSettings(**settings)
        self.supervisor: BackendSupervisor | None = None
        self.error: str | None = None
        self.base_url = ""
        self.backend_kind = ""
        host = self.settings.bind_host
        if node_labels is None:
            node_labels = _current_node_labels()
        self.node_id = node_labels.get("ray.io/node-id", "")
        advertise = self.settings.advertise_host or node_labels.get(LABEL_ADVERTISE) or host
        if advertise != host and host == "127.0.0.1":
            host = "0.0.0.0"  # the rig advertises a routable address: listen on it
        try:
            # The rig's own choices (set by `rigshift agent` on its Ray node) win over the
            # control plane's defaults: a path on the server may not exist on a rig.
            cache_dir = os.environ.get(RIG_CACHE_ENV) or self.settings.cache_dir
            store_url = self.settings.store_url or os.environ.get(RIG_SERVER_ENV)
            token = self.settings.token or os.environ.get("RAY_AUTH_TOKEN")
            cache = ModelCache(
                Path(cache_dir) if cache_dir else None,
                store=ControlPlaneClient(store_url, token) if store_url else None,
            )
            model_path = cache.ensure(self.spec.source)
            binary = choose_backend(self.spec.runtime)
            self.backend_kind = binary.kind
            port = free_port(host)
            adapters = [str(cache.ensure(a.source)) for a in self.spec.adapters]
            argv = backend_command(
                binary, self.spec, str(model_path), host, port, self.settings.threads, adapters
            )
            self.base_url = f"http://{advertise}:{port}"
            log_dir = (
                cache.root.parent / "logs"
                if os.environ.get(RIG_CACHE_ENV) or not self.settings.log_dir
                else Path(self.settings.log_dir)
            )
            log_dir.mkdir(parents=True, exist_ok=True)
            log_path = log_dir / (re.sub(r"[^A-Za-z0-9._-]", "_", self.spec.replica_id) + ".log")
            self.supervisor = BackendSupervisor(
                argv,
                backend_env(self.spec),
                self.base_url + HEALTH_PATHS[binary.kind],
                spawn=spawn_tied(log_path),
                settings=SupervisorSettings(**self.settings.supervisor),
            )
            self.supervisor.start()
        except (RigshiftError, OSError) as error:
            self.error = str(error)

    def info(self) -> dict[str, Any]:
        status = self.supervisor.status() if self.supervisor else None
        return {
            "replica_id": self.spec.replica_id,
            "rig": self.spec.rig,
            "fingerprint": self.spec.fingerprint(),
            "base_url": self.base_url,
            "backend": self.backend_kind,
            "state": status.state if status else "unhealthy",
            "pid": status.pid if status else None,
            "restarts": status.restarts if status else 0,
            "error": self.error or (status.last_error if status else None),
            "events": status.events[-10:] if status else [],
            "actor_pid": os.getpid(),
            "node_id": self.node_id,
        }

    def check_now(self) -> str:
        """Run one health check at once (the gateway reported a failure)."""
        return self.supervisor.step() if self.supervisor else "unhealthy"

    def kill_backend(self) -> int | None:
        return self.supervisor.kill_backend() if self.supervisor else None

    def stop(self) -> None:
        if self.supervisor:
            self.supervisor.stop()
