"""reconcile() and replace_lost(): desired vs observed → actions with reasons."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from rigshift.run.reconcile import ObservedReplica, RigCapacity, reconcile, replace_lost
from rigshift.run.spec import ModelSource, ReplicaSpec

SRC = ModelSource("demo", "Hello there")


def spec(
    rid: str, rig: str = "rig-a", gpus: tuple[int, ...] = (), models: tuple[str, ...] = (), **kw
) -> ReplicaSpec:
    return ReplicaSpec(rid, "chat", "chat", SRC, rig, gpu_indices=gpus, gpu_models=models, **kw)


def running(
    s: ReplicaSpec, alive: bool = True, rig: str | None = None, fp: str | None = None
) -> ObservedReplica:
    return ObservedReplica(s.replica_id, rig or s.rig, fp or s.fingerprint(), alive, "ready")


def kinds(actions) -> list[tuple[str, str]]:
    return [(a.kind, a.replica_id) for a in actions]


def test_converged_state_needs_no_action() -> None:
    a, b = spec("chat-0"), spec("chat-1", "rig-b")
    assert reconcile([a, b], [running(a), running(b)], {"rig-a", "rig-b"}) == []


def test_starts_new_and_stops_removed_with_reasons() -> None:
    a, old = spec("chat-0"), spec("old-0")
    actions = reconcile([a], [running(old)], {"rig-a"})
    assert kinds(actions) == [("stop", "old-0"), ("start", "chat-0")]
    assert actions[0].reason == "removed from plan"
    assert actions[1].reason == "new in plan"


def test_dead_actor_is_restarted_and_says_why() -> None:
    a = spec("chat-0")
    obs = dataclasses.replace(running(a, alive=False), error="killed")
    [action] = reconcile([a], [obs], {"rig-a"})
    assert action.kind == "start"
    assert action.reason == "actor died: killed"


def test_changed_spec_or_rig_is_a_move() -> None:
    a = spec("chat-0")
    bigger = dataclasses.replace(a, context=8192)
    [action] = reconcile([bigger], [running(a)], {"rig-a"})
    assert (action.kind, action.from_rig) == ("move", "rig-a")
    assert "spec changed" in action.reason
    elsewhere = dataclasses.replace(a, rig="rig-b")
    [action] = reconcile([elsewhere], [running(a)], {"rig-a", "rig-b"})
    assert action.reason == "moved from rig-a to rig-b"


def test_replica_still_reported_alive_on_a_lost_rig_moves_because_the_rig_is_lost() -> None:
    """Ray may list an actor as alive for a while after its node left: the reason is the rig."""
    a = spec("chat-0", "rig-b")
    replaced = dataclasses.replace(a, rig="rig-a")
    [action] = reconcile([replaced], [running(a)], {"rig-a"})
    assert (action.kind, action.from_rig) == ("move", "rig-b")
    assert action.reason == "rig rig-b lost"


def test_desired_on_missing_rig_waits() -> None:
    a = spec("chat-0", "rig-gone")
    [action] = reconcile([a], [], {"rig-a"})
    assert action.kind == "wait"
    assert "rig-gone is not in the cluster" in action.reason


def test_lost_rig_replicas_move_to_least_loaded_rig_that_fits() -> None:
    gpu = ("geforce-rtx-3060-12gb",)
    specs = [
        spec("chat-0", "rig-a", (0,), gpu),
        spec("chat-1", "rig-b", (1,), gpu),
        spec("chat-2", "rig-b", (0,), gpu),
    ]
    live = {
        "rig-a": RigCapacity("rig-a", gpu * 2),
        "rig-c": RigCapacity("rig-c", ("radeon-rx-580-8gb",) * 4),  # wrong model: not a candidate
    }
    result, waits = replace_lost(specs, live)
    assert waits == []
    moved = {s.replica_id: s for s in result}
    assert moved["chat-0"].rig == "rig-a"  # untouched
    assert moved["chat-1"].rig == "rig-a" and moved["chat-2"].rig == "rig-a"
    assert moved["chat-1"].labels["rigshift.io/replaced-from"] == "rig-b"
    assert moved["chat-1"].gpu_indices == (0,)


def test_a_drained_rig_keeps_its_replicas_but_takes_none_from_a_lost_rig() -> None:
    specs = [spec("chat-0", "rig-a"), spec("chat-1", "rig-lost")]
    live = {"rig-a": RigCapacity("rig-a", ()), "rig-b": RigCapacity("rig-b", ())}
    result, waits = replace_lost(specs, live, avoid={"rig-b"})
    assert waits == [] and [s.rig for s in result] == ["rig-a", "rig-a"]  # not rig-b, the emptier
    result, waits = replace_lost(specs, live, avoid={"rig-a", "rig-b"})
    assert [s.rig for s in result] == ["rig-a", "rig-lost"]  # rig-a drained: keeps chat-0
    assert [w.replica_id for w in waits] == ["chat-1"]


def test_lost_replica_with_no_home_waits() -> None:
    specs = [spec("chat-0", "rig-b", (0, 1), ("a", "b"))]
    result, waits = replace_lost(specs, {"rig-a": RigCapacity("rig-a", ("a",))})
    assert result == specs
    assert [w.kind for w in waits] == ["wait"]
    assert "no live rig can take it" in waits[0].reason


def test_cpu_replicas_go_anywhere() -> None:
    specs = [spec("chat-0", "rig-b")]
    result, _ = replace_lost(specs, {"rig-z": RigCapacity("rig-z", ())})
    assert result[0].rig == "rig-z"


@settings(max_examples=200, deadline=None)
@given(
    desired=st.sets(st.integers(0, 6)),
    observed=st.dictionaries(
        st.integers(0, 6), st.tuples(st.booleans(), st.sampled_from(["rig-a", "rig-b"]))
    ),
)
def test_applying_the_actions_converges(desired: set[int], observed: dict[int, tuple[bool, str]]) -> None:
    """Whatever runs, applying the actions once yields exactly the desired replicas, all alive."""
    live = {"rig-a", "rig-b"}
    want = [spec(f"r-{i}", "rig-a" if i % 2 else "rig-b") for i in sorted(desired)]
    by_id = {s.replica_id: s for s in want}
    have = {
        f"r-{i}": ObservedReplica(
            f"r-{i}", rig, by_id[f"r-{i}"].fingerprint() if f"r-{i}" in by_id else "x", alive
        )
        for i, (alive, rig) in observed.items()
    }
    for action in reconcile(want, have.values(), live):
        if action.kind in ("stop", "move"):
            have.pop(action.replica_id)
        if action.kind in ("start", "move"):
            s = action.spec
            assert s is not None
            have[s.replica_id] = running(s)
    assert sorted(have) == sorted(by_id)
    assert reconcile(want, have.values(), live) == []
