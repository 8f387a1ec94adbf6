"""How long the data plane takes to bring replicas up, back after a crash, and back after a lost rig.

Runs a real `ray.cluster_utils.Cluster` (token auth, a head and two simulated CPU rigs) with the
real llama-server and the tiny generated model, and in the same run the baseline: the same
llama-server started bare under a `BackendSupervisor` (no Ray, no actor, no model cache), so the
figures show what Ray and the reconciler add on top of the backend's own start-up.

    python bench/replica_lifecycle.py [--replicas 4]

Needs `scripts/build-llama-server` (or RIGSHIFT_LLAMA_SERVER). Prints one line per figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rigshift.fleet.model import Rig
from rigshift.run.backends import BackendBinary, backend_command, backend_env, find_llama_server
from rigshift.run.labels import rig_labels
from rigshift.run.manager import ReplicaManager
from rigshift.run.ray_cluster import RayCluster, use_token_in_this_process
from rigshift.run.replica_actor import RunnerSettings, free_port, spawn_tied
from rigshift.run.spec import ModelSource, ReplicaSpec
from rigshift.run.supervisor import BackendSupervisor, SupervisorSettings
from rigshift.run.tiny_gguf import write_tiny_gguf

REPLY = "Bench tokens flow"


def bare_start(binary: str, work: Path, rounds: int = 5) -> list[float]:
    """Baseline: spawn llama-server under the supervisor and wait for /health, no Ray."""
    model = write_tiny_gguf(work / "bare.gguf", reply=REPLY)
    spec = ReplicaSpec("bare", "b", "b", ModelSource("path", str(model)), "local", parallel=2, context=512)
    times = []
    for _ in range(rounds):
        port = free_port("127.0.0.1")
        argv = backend_command(
            BackendBinary("llama-server", (binary,)), spec, str(model), "127.0.0.1", port, 1
        )
        sup = BackendSupervisor(
            argv,
            backend_env(spec),
            f"http://127.0.0.1:{port}/health",
            spawn=spawn_tied(work / "bare.log"),
            settings=SupervisorSettings(interval_s=0.05),
        )
        start = time.perf_counter()
        sup.start()
        assert sup.wait_ready(60)
        times.append(time.perf_counter() - start)
        sup.stop()
    return times


def wait(predicate, timeout_s: float = 120.0) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout_s:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicas", type=int, default=4)
    args = parser.parse_args()
    binary = find_llama_server()
    if binary is None:
        print("llama-server not found: run scripts/build-llama-server", file=sys.stderr)
        return 2
    os.environ["RIGSHIFT_LLAMA_SERVER"] = str(binary)
    work = Path(tempfile.mkdtemp(prefix="rigshift-bench-"))
    print(f"machine: {os.cpu_count()} CPUs; llama-server {binary}")

    bare = bare_start(str(binary), work)
    print(
        f"baseline  bare llama-server start -> /health 200: median {statistics.median(bare):.2f} s ({len(bare)} runs)"
    )

    import ray
    from ray.cluster_utils import Cluster

    use_token_in_this_process("bench-token-" + "b" * 32)
    t = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    nodes = {
        name: cluster.add_node(num_cpus=2, labels=rig_labels(Rig(name=name, site="s")))
        for name in ("rig-a", "rig-b")
    }
    ray.init(address=cluster.address, namespace="rigshift", log_to_driver=False)
    print(f"ray       cluster start (head + 2 rigs, token auth): {time.perf_counter() - t:.1f} s")
    settings = RunnerSettings(
        cache_dir=str(work / "models"), threads=1, supervisor={"interval_s": 0.05, "backoff_base_s": 0.1}
    )
    manager = ReplicaManager(RayCluster(settings), interval_s=0.1)
    manager.start()
    try:
        n = args.replicas
        specs = [
            ReplicaSpec(
                f"r-{i}",
                "tiny",
                "tiny",
                ModelSource("demo", REPLY),
                "rig-a" if i % 2 else "rig-b",
                parallel=2,
                context=512,
            )
            for i in range(n)
        ]
        manager.apply(specs)
        up = wait(lambda: len(manager.directory().ready_replicas("tiny")) == n)
        print(f"ray       apply {n} replicas -> all ready: {up:.2f} s ({up / n:.2f} s per replica, 2 rigs)")

        restarts = []
        for _ in range(3):
            target = "r-0"
            before = {e.replica_id: e for e in manager.replicas()}[target].labels["restarts"]
            manager.kill_backend(target)

            def back(target: str = target, before: str = before) -> bool:
                e = {x.replica_id: x for x in manager.replicas()}.get(target)
                return bool(e and e.state == "ready" and e.labels["restarts"] != before)

            restarts.append(wait(back))
        print(f"ray       killed backend -> ready again: median {statistics.median(restarts):.2f} s (3 runs)")

        lost = [s.replica_id for s in specs if s.rig == "rig-b"]
        t = time.perf_counter()
        cluster.remove_node(nodes["rig-b"])
        wait(
            lambda: (
                {e.rig for e in manager.directory().ready_replicas("tiny")} == {"rig-a"}
                and len(manager.directory().ready_replicas("tiny")) == n
            )
        )
        print(
            f"ray       rig removed -> its {len(lost)} replicas ready elsewhere: {time.perf_counter() - t:.2f} s"
        )
    finally:
        manager.close(stop_replicas=True)
        ray.shutdown()
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
