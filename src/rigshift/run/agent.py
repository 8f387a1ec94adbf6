"""`rigshift agent`: make this rig a labelled node of the cluster and report its GPUs.

Steps: describe the rig (fleet file entry, or the probe of this machine), turn it into Ray node
labels, run `ray start --address … --block` with the join token as Ray's auth token (a wrong
token is refused by the head), and post telemetry to the control plane every few seconds; with a power capper, apply the energy
policy's caps for this rig's GPUs as often (`rigshift.energy.caps`). The
model cache lives in the replica actors the head places here; the agent only owns the node.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

from rigshift.client.http import ControlPlaneClient, Refused
from rigshift.energy.caps import CapApplier, PowerCapper, caps_from_server
from rigshift.errors import BackendError, EnvironmentProblem, InputError, Problem
from rigshift.fleet.model import Rig
from rigshift.run.labels import rig_labels
from rigshift.run.ray_cluster import auth_env, join_command
from rigshift.run.replica_actor import RIG_CACHE_ENV, RIG_SERVER_ENV
from rigshift.run.telemetry import TelemetryReporter, post_report, sampler_for
from rigshift.suggest import did_you_mean

DEFAULT_RAY_PORT = 6380


def rig_from_fleet(path: Path, name: str | None) -> Rig:
    from rigshift.fleet.store import load_fleet

    fleet = load_fleet(path)
    if name is None:
        if len(fleet.rigs) != 1:
            raise InputError(
                Problem("the fleet has several rigs: say which one this is", str(path), field="--rig")
            )
        return fleet.rigs[0]
    for rig in fleet.rigs:
        if name in (rig.name, rig.hostname):
            return rig
    names = [r.name for r in fleet.rigs]
    raise InputError(
        Problem(
            f"no rig named {name!r}", str(path), field="--rig", suggestions=tuple(did_you_mean(name, names))
        )
    )


def probe_this_rig(name: str | None, site: str | None) -> Rig:
    from rigshift.fleet.names import CatalogResolver
    from rigshift.fleet.sources.probe import probe_machine

    parsed = probe_machine(CatalogResolver(), site=site) if site else probe_machine(CatalogResolver())
    rig = parsed.fleet.rigs[0]
    return rig.model_copy(update={"name": name}) if name else rig


def cpu_rig(name: str | None, site: str | None) -> Rig:
    import socket

    return Rig(name=name or socket.gethostname(), site=site or "local", gpus=[])


def ray_address_for(
    server: str, explicit: str | None, token: str, *, transport: httpx.BaseTransport | None = None
) -> str:
    """The head's address: given, else asked from the control plane, else its host at :6380."""
    if explicit:
        return explicit
    try:
        with ControlPlaneClient(server, token, transport=transport, timeout=5.0) as client:
            answer = client.call("GET", "/internal/cluster")
        if isinstance(answer, dict) and answer.get("ray_address"):
            return str(answer["ray_address"])
    except Refused as refusal:
        if refusal.http_status == 401:
            raise InputError(
                Problem("the control plane refused the join token", server, field="--token")
            ) from None
    except BackendError:
        pass  # no answer, or an older server without the route: the head on the server's host
    host = urlparse(server).hostname or "127.0.0.1"
    return f"{host}:{DEFAULT_RAY_PORT}"


@dataclass
class Agent:
    rig: Rig
    server: str
    token: str
    ray_address: str
    advertise_host: str | None = None
    num_cpus: int | None = None
    telemetry_interval_s: float = 5.0
    simulate: bool = False
    model_cache: str | None = None  # where replicas on this rig keep models (default ~/.cache/…)
    capper: PowerCapper | None = None  # applies the energy policy's power caps (None: never touched)
    _node: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def labels(self) -> dict[str, str]:
        return rig_labels(self.rig, self.advertise_host)

    def node_env(self) -> dict[str, str]:
        """The Ray node's environment, inherited by the replica actors placed on this rig: the
        join token (Ray auth, model store), the server URL (model store) and the model cache."""
        env = auth_env(self.token)
        env[RIG_SERVER_ENV] = self.server
        if self.model_cache:
            env[RIG_CACHE_ENV] = self.model_cache
        return env

    def run(
        self,
        on_joined: Callable[[str], None] | None = None,
        join_timeout_s: float = 120.0,
        log_path: Path | None = None,
    ) -> int:
        """Join and block until the Ray node process ends; returns its exit code.

        Joined means `ray start` printed its start-up message; if it exits first (the head
        refused the token, or no head answers), that is a BackendError with the reason.
        """
        cmd = join_command(self.ray_address, self.labels(), self.num_cpus)
        log_path = log_path or Path(tempfile.gettempdir()) / f"rigshift-agent-{os.getpid()}.log"
        # A file, not a pipe: a long-running node would block on a full pipe nobody reads.
        with open(log_path, "wb") as out:
            try:
                # Own process group: the raylet and its workers join it, so leaving kills them all
                # (`ray start --block` itself ignores SIGTERM and would orphan its raylet).
                node = subprocess.Popen(
                    cmd,
                    env=self.node_env(),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as error:
                raise EnvironmentProblem(f"cannot run `ray start`: {error}") from None
        self._node = node
        control_plane = ControlPlaneClient(self.server, self.token, timeout=5.0)
        reporter = TelemetryReporter(
            self.rig.name,
            sampler_for(self.rig, self.simulate),
            post_report(control_plane),
            interval_s=self.telemetry_interval_s,
        )
        try:
            deadline = time.monotonic() + join_timeout_s
            while node.poll() is None and _JOINED not in _read(log_path):
                if time.monotonic() > deadline:
                    raise BackendError(
                        f"no answer from the Ray head at {self.ray_address} in {join_timeout_s:g} s"
                    )
                time.sleep(0.2)
            if node.poll() is not None and _JOINED not in _read(log_path):
                raise BackendError(
                    f"could not join the cluster at {self.ray_address}: {_reason(_read(log_path))}"
                )
            if on_joined:
                on_joined(self.ray_address)
            reporter.start()
            applier = None
            if self.capper is not None:
                source = caps_from_server(control_plane, self.rig.name)
                applier = CapApplier(self.capper, source, interval_s=self.telemetry_interval_s)
                applier.start()
            try:
                return node.wait()
            finally:
                if applier is not None:
                    applier.stop()
        finally:
            reporter.stop()
            _end_group(node)
            control_plane.close()

    def stop(self) -> None:
        """Leave the cluster (from another thread): the blocked `run` returns."""
        if self._node is not None:
            _end_group(self._node)


_JOINED = "Ray runtime started"


def _end_group(node: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """SIGTERM the node's whole process group, then SIGKILL what is left after `grace_s`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(node.pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _group_alive(node.pid):
            node.poll()  # reap our direct child, or its zombie keeps the group "alive"
            time.sleep(0.1)
        if not _group_alive(node.pid):
            break
    with contextlib.suppress(subprocess.TimeoutExpired):
        node.wait(timeout=5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _reason(output: str) -> str:
    lowered = output.lower()
    if "auth" in lowered or "token" in lowered:
        return "the head refused the join token"
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "ray start exited"


def bench_on_this_rig(
    rig: str, runtime: str | None, threads: int | None, models: list[str] | None = None
) -> list[dict[str, object]]:
    """`rigshift bench` on the rig whose agent node runs this (a Ray task the control plane pins
    to the rig's label): llama-bench on each card class here; rows as JSON for the server to store."""
    import sys

    from rigshift.measure.service import parse_model_choices, run_bench

    rows = run_bench(
        runtime,
        lambda line: print(line, file=sys.stderr),
        threads=threads,
        rig=rig,
        source=f"agent {rig}",
        models=parse_model_choices(models),
    )
    return [row.to_json() for row in rows]
