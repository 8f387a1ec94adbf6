"""One-machine wiring for `rigshift up`: a supervised llama.cpp replica behind the gateway.

The replica is started with the data plane's own pieces (`write_tiny_gguf`, `choose_backend`,
`backend_command`, `BackendSupervisor`), so what runs is what a rig runs; the directory reports
the replica ready only while its supervisor says so (it restarts a backend that dies).
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from rigshift.run.backends import backend_command, backend_env, choose_backend
from rigshift.run.capabilities import spec_capabilities
from rigshift.run.contracts import ReplicaEndpoint
from rigshift.run.spec import ReplicaSpec
from rigshift.run.supervisor import BackendSupervisor, spawn_subprocess
from rigshift.run.tiny_gguf import GENERATOR_VERSION, write_tiny_gguf
from rigshift.server.demo_models import DEMO_MODEL, demo_specs
from rigshift.server.serving import free_port


class SupervisedDirectory:
    """A `ReplicaDirectory` whose replicas' states come from their supervisors."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[ReplicaEndpoint, Callable[[], str]]] = {}
        self.failures: list[tuple[str, str]] = []

    def add(self, replica: ReplicaEndpoint, state: Callable[[], str]) -> None:
        self._entries[replica.replica_id] = (replica, state)

    def replicas(self) -> list[ReplicaEndpoint]:
        return [replace(r, state=state()) for r, state in self._entries.values()]  # type: ignore[arg-type]

    def models(self) -> list[str]:
        return sorted({r.model for r, _ in self._entries.values()})

    def ready_replicas(self, model: str) -> list[ReplicaEndpoint]:
        return [r for r in self.replicas() if r.model == model and r.state == "ready"]

    def report_failure(self, replica_id: str, error: str) -> None:
        # The supervisor's own health checks decide restarts; the gateway's report is recorded.
        self.failures.append((replica_id, error))


def start_demo_replica(
    workdir: Path, spec: ReplicaSpec | None = None, *, threads: int | None = 2
) -> tuple[BackendSupervisor, ReplicaEndpoint]:
    """Write the tiny model (once) and start llama.cpp on the CPU serving `spec` (by default
    the demo chat deployment) on a free port."""
    spec = spec or demo_specs()[0]
    model_path = workdir / "models" / f"{DEMO_MODEL}-v{GENERATOR_VERSION}.gguf"
    if not model_path.is_file():
        write_tiny_gguf(model_path, stop=True)
    port = free_port()
    binary = choose_backend(spec.runtime)
    argv = backend_command(binary, spec, str(model_path), "127.0.0.1", port, threads=threads)
    base_url = f"http://127.0.0.1:{port}"
    log = workdir / "logs" / f"{spec.replica_id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    supervisor = BackendSupervisor(argv, backend_env(spec), base_url + "/health", spawn=spawn_subprocess(log))
    supervisor.start()
    endpoint = ReplicaEndpoint(
        replica_id=spec.replica_id,
        deployment=spec.deployment,
        model=spec.model,
        base_url=base_url,
        rig=spec.rig,
        gpus=("local/cpu",),
        state="starting",
        max_parallel=spec.parallel,
        context=spec.context,
        capabilities=spec_capabilities(spec),
    )
    return supervisor, endpoint


def load_or_create_secret(path: Path) -> str:
    """A cluster secret (the join token) kept in a 0600 file, created on first use."""
    if path.is_file():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    write_secret(path, token, exclusive=True)
    return token


def write_secret(path: Path, secret: str, *, exclusive: bool = False) -> None:
    """Write `secret` to `path`, readable by this user only (mode 0600 from the start)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path if exclusive else path.with_name(f"{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    fd = os.open(target, flags, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    if not exclusive:
        os.replace(target, path)
