"""Ray node labels for a rig: its identity and GPUs as the fleet probe saw them.

Why labels and not Ray's accelerator type: Ray names a node's GPUs from GPU 0's name only and
calls every GeForce "G". rigshift pins replicas by `rigshift.io/rig` and reads GPU models, VRAM
and PCIe links back from the labels for re-placement and the operator's view.

Ray label values follow Kubernetes syntax (≤63 characters of [A-Za-z0-9_.-], alphanumeric at
both ends), so a list cannot live in one value: each GPU gets its own keys, and names that do not
fit are sanitised (with a short hash when shortened, so two long names never collide).
"""

from __future__ import annotations

import hashlib
import re

from rigshift.fleet.model import Rig
from rigshift.run.reconcile import RigCapacity
from rigshift.run.spec import LABEL_RIG, LABEL_SITE

LABEL_GPU_COUNT = "rigshift.io/gpu-count"
LABEL_ADVERTISE = "rigshift.io/advertise-host"  # where the gateway reaches this rig's backends
_GPU_KEY = "rigshift.io/gpu-{i}"
_VRAM_KEY = "rigshift.io/gpu-{i}-vram-gib"
_PCIE_KEY = "rigshift.io/gpu-{i}-pcie"

_BAD = re.compile(r"[^A-Za-z0-9_.-]")


def label_value(text: str) -> str:
    """A valid Ray/Kubernetes label value that identifies `text` (same input, same output)."""
    clean = _BAD.sub("_", text).strip("_.-") or "x"
    if clean == text and len(text) <= 63:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{clean[:54].rstrip('_.-')}-{digest}"


def rig_labels(rig: Rig, advertise_host: str | None = None) -> dict[str, str]:
    labels = {LABEL_RIG: label_value(rig.name), LABEL_SITE: label_value(rig.site)}
    labels[LABEL_GPU_COUNT] = str(len(rig.gpus))
    for i, gpu in enumerate(rig.gpus):
        labels[_GPU_KEY.format(i=i)] = label_value(gpu.model)
        labels[_VRAM_KEY.format(i=i)] = f"{gpu.vram_gib:g}"
        if gpu.pcie is not None:
            labels[_PCIE_KEY.format(i=i)] = f"gen{gpu.pcie.gen}x{gpu.pcie.width}"
    if advertise_host:
        labels[LABEL_ADVERTISE] = label_value(advertise_host)
    return labels


def capacity_from_labels(labels: dict[str, str]) -> RigCapacity | None:
    """Read a rig's identity and GPU models back from its node labels (None: not a rig node)."""
    rig = labels.get(LABEL_RIG)
    if rig is None:
        return None
    count = int(labels.get(LABEL_GPU_COUNT, "0") or 0)
    models = tuple(labels.get(_GPU_KEY.format(i=i), "unknown") for i in range(count))
    return RigCapacity(rig=rig, gpu_models=models)


def labels_as_cli(labels: dict[str, str]) -> str:
    """`ray start --labels` syntax: "k1=v1,k2=v2" (values are already comma-free)."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
