"""The one host rule (rigshift.hosts) that assess, plan and econ count replicas with."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rigshift.hosts import HostCriteria, host_capacity, replicas_on_rig

cores = st.one_of(st.none(), st.integers(1, 64))
ram = st.one_of(st.none(), st.floats(1, 512, allow_nan=False))
host_ram = st.floats(0, 4, allow_nan=False)


def test_the_issue_rig_two_cores_eight_gpus_hosts_two() -> None:
    cap = host_capacity(2, 32.0, 0.66)
    assert (cap.replicas, cap.limit) == (2, "cpu") and "2 CPU cores at 1 per replica" in cap.detail
    assert replicas_on_rig(8, 2, 32.0, 0.66) == 2


def test_ram_and_disk_limits_name_themselves() -> None:
    ram_bound = host_capacity(16, 4.0, 0.5)  # (4 - 1) // 1.5 = 2
    assert (ram_bound.replicas, ram_bound.limit) == (2, "ram") and "more RAM" in ram_bound.detail
    disk_bound = host_capacity(16, 64.0, 0.5, disk_gib=8.0, model_file_gib=18.5)
    assert (disk_bound.replicas, disk_bound.limit) == (0, "disk") and "bigger disk" in disk_bound.detail
    assert host_capacity(None, None).unlimited and host_capacity(None, None).detail == ""


@given(cores, ram, host_ram, st.integers(0, 16))
def test_never_more_replicas_than_gpus_and_more_host_never_hosts_fewer(
    c: int | None, r: float | None, h: float, gpus: int
) -> None:
    n = replicas_on_rig(gpus, c, r, h)
    assert 0 <= n <= gpus
    if c is not None and r is not None:
        assert replicas_on_rig(gpus, c + 1, r + 1.0, h) >= n
        stricter = HostCriteria(cpu_cores_per_replica=2.0, ram_gib_per_replica=2.0)
        assert replicas_on_rig(gpus, c, r, h, stricter) <= n
