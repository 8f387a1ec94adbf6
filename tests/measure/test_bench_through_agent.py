"""`POST /admin/measurements/bench` through a rig's agent node (slow): a real Ray cluster whose
second node carries a rig's labels the way `rigshift agent` sets them; the bench runs there as a
Ray task with the real llama-bench (one small model, one thread) and the rows come back stored."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from rigshift.errors import EnvironmentProblem
from rigshift.fleet.model import Rig
from rigshift.measure.runner import find_llama_bench
from rigshift.measure.store import MeasurementStore
from rigshift.run.labels import rig_labels
from rigshift.server.db import open_engine
from rigshift.server.services.measurements import MeasurementsService, ray_rig_bench


def _have_llama_bench() -> bool:
    try:
        find_llama_bench()
    except EnvironmentProblem:
        return False
    return True


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not _have_llama_bench(), reason="llama-bench not found: run scripts/build-llama-bench"
    ),
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    import ray
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "labels": {"rigshift.io/role": "head"}})
    c.add_node(num_cpus=1, labels=rig_labels(Rig(name="rig-cpu", site="north", gpus=[])))
    ray.init(address=c.address, namespace="rigshift-bench-test", log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
        c.shutdown()


def test_a_rig_is_benched_through_its_agent_node_and_stored(cluster, tmp_path):  # type: ignore[no-untyped-def]
    store = MeasurementStore(open_engine(str(tmp_path / "m.db")))
    service = MeasurementsService(store, lambda: 1.0, ray_rig_bench(timeout_s=600))
    rows = anyio.run(service.bench_rig, "rig-cpu", "llama.cpp-cpu", 1, ["qwen3-0.6b:Q4_0"])
    assert {(r.test, r.model_key, r.quant, r.rig, r.source) for r in rows} == {
        ("pp64", "qwen3-0.6b", "Q4_0", "rig-cpu", "agent rig-cpu"),
        ("tg32", "qwen3-0.6b", "Q4_0", "rig-cpu", "agent rig-cpu"),
    }
    assert all(r.tokens_per_s > 0 and r.n_threads == 1 for r in rows)
    assert store.list(rig="rig-cpu") == rows


def test_an_unknown_rig_is_refused_instead_of_running_elsewhere(cluster, tmp_path):  # type: ignore[no-untyped-def]
    """No agent carries the rig's label: refused at once (404), never run on another node."""
    from rigshift.server.errors import NotFound

    service = MeasurementsService(
        MeasurementStore(open_engine(str(tmp_path / "m.db"))), lambda: 1.0, ray_rig_bench(timeout_s=5)
    )
    with pytest.raises(NotFound, match="no rig 'rig-nowhere'"):
        anyio.run(service.bench_rig, "rig-nowhere", "llama.cpp-cpu", 1, ["qwen3-0.6b:Q4_0"])
