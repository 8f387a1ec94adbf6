"""Whether a desired plan can run at all, checked before it is stored (a plan that cannot run used
to get 202 and then fail, replica by replica, in the reconciler's log).

- `extra_args` may tune the backend but not move it: flags that change where it listens, what it
  reads or writes on the rig, or which model it serves are refused (the gateway reaches replicas
  at the address the runner gave them; `--host 0.0.0.0` would expose a backend with no key check
  to the rig's network).
- A replica asks for no GPU its rig does not have (none on a CPU rig), where the server knows the
  rig: its agent is connected, or the --fleet file lists it. A server with a fleet file refuses a
  rig that is in neither (did-you-mean); without one, a rig whose agent has not joined yet is
  accepted: the reconciler places its replicas once it joins.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rigshift.errors import RigshiftError
from rigshift.run.labels import label_value
from rigshift.run.spec import ReplicaSpec
from rigshift.suggest import did_you_mean

# llama-server's and vLLM's flags that bind, expose, read or write files, or pick the model.
REFUSED_FLAGS = frozenset(
    {
        "--host", "--port", "--path", "--api-prefix", "--api-key", "--api-key-file",
        "--ssl-key-file", "--ssl-cert-file", "--ssl-keyfile", "--ssl-certfile", "--uds",
        "--log-file", "--slot-save-path", "--static-path", "--webui", "--no-webui",
        "-m", "--model", "-mu", "--model-url", "-hf", "-hfr", "--hf-repo", "-hff", "--hf-file",
        "-hft", "--hf-token", "--lora", "--lora-scaled", "--control-vector", "--control-vector-scaled",
        "--mmproj", "--mmproj-url", "-md", "--model-draft", "--rpc", "--chat-template-file",
        "--grammar-file", "--json-schema-file", "--prompt-cache", "-a", "--alias",
        "--download-dir", "--served-model-name", "--tokenizer", "--allowed-local-media-path",
    }
)  # fmt: skip

Problem = tuple[str, str]  # (message, param)


@dataclass(frozen=True)
class RigInventory:
    """Rig label value -> GPU count, for the rigs the server knows; `closed`: no other rig exists
    (the operator gave a fleet file), else an unknown rig may still join."""

    gpus: dict[str, int] = field(default_factory=dict)
    closed: bool = False


def flag_of(arg: str) -> str | None:
    """'--host=0.0.0.0' -> '--host'; a value ('0.0.0.0') -> None."""
    if not arg.startswith("-") or arg.lstrip("-")[:1].isdigit():
        return None
    return arg.split("=", 1)[0]


def plan_problems(specs: Sequence[ReplicaSpec], rigs: RigInventory | None) -> list[Problem]:
    """What makes the plan unrunnable (`rigs` None: no rig is known)."""
    problems: list[Problem] = []
    for i, spec in enumerate(specs):
        where = f"[{i}]"
        for arg in spec.extra_args:
            flag = flag_of(arg)
            if flag in REFUSED_FLAGS:
                problems.append(
                    (
                        f"replica {spec.replica_id!r}: extra_args may not set {flag} (it changes where the "
                        "backend listens, what it reads or writes, or which model it serves)",
                        f"{where}.extra_args",
                    )
                )
        if len(set(spec.gpu_indices)) != len(spec.gpu_indices):
            problems.append((f"replica {spec.replica_id!r}: a GPU index repeats", f"{where}.gpu_indices"))
        if spec.tensor_split and len(spec.tensor_split) != len(spec.gpu_indices):
            problems.append(
                (
                    f"replica {spec.replica_id!r}: {len(spec.tensor_split)} tensor_split ratios for "
                    f"{len(spec.gpu_indices)} GPUs",
                    f"{where}.tensor_split",
                )
            )
        if rigs is None:
            continue
        count = rigs.gpus.get(label_value(spec.rig))
        if count is None:
            if rigs.closed:
                near = did_you_mean(spec.rig, list(rigs.gpus))
                hint = f"; did you mean {', '.join(near)}?" if near else ""
                message = f"replica {spec.replica_id!r}: no rig {spec.rig!r} in the fleet or the cluster"
                problems.append((message + hint, f"{where}.rig"))
            continue
        wanted = len(spec.gpu_indices)
        if count == 0 and (wanted or spec.runtime != "llama.cpp-cpu"):
            problems.append(
                (
                    f"replica {spec.replica_id!r}: rig {spec.rig!r} has no GPU; it runs llama.cpp-cpu "
                    f"with no gpu_indices (asked: {spec.runtime}, {wanted} GPUs)",
                    f"{where}.gpu_indices" if wanted else f"{where}.runtime",
                )
            )
        elif any(index >= count for index in spec.gpu_indices):
            problems.append(
                (
                    f"replica {spec.replica_id!r}: rig {spec.rig!r} has {count} GPUs (indices 0..{count - 1}), "
                    f"asked for {list(spec.gpu_indices)}",
                    f"{where}.gpu_indices",
                )
            )
    return problems


def rig_inventory(manager: Any, fleet: Callable[[], Any] | None) -> Callable[[], RigInventory | None]:
    """The rigs a plan may name: the agents connected to the cluster (a manager's `live_rigs`) and
    the rigs of the fleet file (which closes the list). None when the server knows neither
    (fixed backends, test fakes): then rigs are not checked."""

    def rigs() -> RigInventory | None:
        known: dict[str, int] = {}
        found = closed = False
        live = getattr(manager, "live_rigs", None)
        if callable(live):
            with contextlib.suppress(Exception):  # an unreachable cluster checks against the fleet only
                known.update({rig: len(cap.gpu_models) for rig, cap in live().items()})
                found = True
        if fleet is not None:
            with contextlib.suppress(RigshiftError):
                loaded = fleet()
                if loaded is not None:
                    for rig in loaded.rigs:
                        known.setdefault(label_value(rig.name), len(rig.gpus))
                    found = closed = True
        return RigInventory(known, closed) if found else None

    return rigs
