"""Which inference server binary a rig runs, and its command line for a replica.

`llama-server` (any build: CUDA, Vulkan, ROCm, CPU) is the production backend: slots, continuous
batching and uneven `--tensor-split`. llama-cpp-python's server is the fallback where no
`llama-server` exists (it serves one request at a time), vLLM where the plan asks for it.
Building the command is pure; finding the binary looks at the environment and the filesystem.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rigshift.errors import EnvironmentProblem
from rigshift.run.spec import ReplicaSpec

LLAMA_SERVER_ENV = "RIGSHIFT_LLAMA_SERVER"
LLAMA_CPP_PYTHON_VERSION = "0.3.36"  # the version scripts/build-llama-server builds


@dataclass(frozen=True)
class BackendBinary:
    kind: str  # "llama-server", "llama-cpp-python", "vllm"
    argv0: tuple[str, ...]  # the program (and for Python modules, "-m module")


def llama_server_cache_path() -> Path:
    """Where scripts/build-llama-server puts its binary (same formula as the script)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "rigshift" / "llama.cpp" / LLAMA_CPP_PYTHON_VERSION / "bin" / "llama-server"


def find_llama_server() -> Path | None:
    """$RIGSHIFT_LLAMA_SERVER, then `llama-server` on PATH, then the build script's cache."""
    explicit = os.environ.get(LLAMA_SERVER_ENV)
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path)
    cached = llama_server_cache_path()
    return cached if cached.is_file() and os.access(cached, os.X_OK) else None


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def choose_backend(runtime: str) -> BackendBinary:
    """The backend binary for a plan's runtime on this machine, or a clear EnvironmentProblem."""
    if runtime == "vllm":
        if not _has_module("vllm"):
            raise EnvironmentProblem("the plan asks for vLLM but it is not installed on this rig")
        return BackendBinary("vllm", (sys.executable, "-m", "vllm.entrypoints.openai.api_server"))
    server = find_llama_server()
    if server is not None:
        return BackendBinary("llama-server", (str(server),))
    if _has_module("llama_cpp"):
        return BackendBinary("llama-cpp-python", (sys.executable, "-m", "llama_cpp.server"))
    raise EnvironmentProblem(
        "no llama.cpp server on this rig: run scripts/build-llama-server, put llama-server on PATH "
        f"or set {LLAMA_SERVER_ENV}"
    )


def backend_command(
    binary: BackendBinary,
    spec: ReplicaSpec,
    model_path: str,
    host: str,
    port: int,
    threads: int | None = None,
    adapter_paths: Sequence[str] = (),
) -> list[str]:
    """The backend's argv for one replica: the plan's context, slots and split, bound to host:port.

    `adapter_paths` (the spec's adapters, fetched) load as LoRA adapters, ids in that order; none
    applies unless a request names it (the gateway always sends a `lora` list: in this
    llama-server a request without one gets every adapter at scale 1, init-without-apply or not).
    """
    argv = list(binary.argv0)
    gpu_layers = "999" if spec.gpu_indices else "0"
    if binary.kind == "llama-server":
        # llama-server divides -c among its slots (unless the KV cache is unified), so the total
        # is the per-sequence context the plan promises times the slots.
        argv += ["--model", model_path, "--host", host, "--port", str(port)]
        argv += ["--ctx-size", str(spec.context * spec.parallel), "--parallel", str(spec.parallel)]
        argv += ["--alias", spec.model, "--n-gpu-layers", gpu_layers, "--no-webui", "--metrics"]
        if len(spec.gpu_indices) > 1:
            argv += ["--split-mode", "layer"]
            if spec.tensor_split:
                argv += ["--tensor-split", ",".join(f"{x:g}" for x in spec.tensor_split)]
        if spec.embeddings:
            # This llama-server keeps answering completions with --embeddings on (checked with
            # the tiny model); mean pooling suits decoder models that have no pooling of their own.
            argv += ["--embeddings", "--pooling", "mean"]
        elif spec.reranking:
            # Rank pooling reads the last token's state (a causal model's reranker head).
            argv += ["--reranking", "--pooling", "rank"]
        if threads:
            argv += ["--threads", str(threads)]
        for path in adapter_paths:
            argv += ["--lora", path]
        if adapter_paths:
            argv += ["--lora-init-without-apply"]
    elif binary.kind == "llama-cpp-python":
        argv += ["--model", model_path, "--host", host, "--port", str(port)]
        argv += ["--n_ctx", str(spec.context), "--model_alias", spec.model, "--n_gpu_layers", gpu_layers]
        if spec.tensor_split and len(spec.gpu_indices) > 1:
            argv += ["--tensor_split", *(f"{x:g}" for x in spec.tensor_split)]
    elif binary.kind == "vllm":
        argv += ["--model", model_path, "--host", host, "--port", str(port)]
        argv += ["--served-model-name", spec.model, "--max-model-len", str(spec.context)]
        argv += ["--max-num-seqs", str(spec.parallel)]
        if len(spec.gpu_indices) > 1:
            argv += ["--pipeline-parallel-size", str(len(spec.gpu_indices))]
    else:  # pragma: no cover - BackendBinary kinds are fixed above
        raise ValueError(binary.kind)
    return argv + list(spec.extra_args)


# Secrets a backend never needs: the cluster's join token (Ray's auth token is the same secret)
# and admin credentials. A backend runs third-party code on client input; it must not hold them.
SECRET_ENV = ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RIGSHIFT_JOIN_TOKEN", "RIGSHIFT_ADMIN_KEY")


def backend_env(spec: ReplicaSpec, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the backend: only the plan's GPUs are visible to it (CUDA and ROCm), and
    none of the cluster's secrets."""
    env = dict(os.environ if base is None else base)
    for name in SECRET_ENV:
        env.pop(name, None)
    if spec.gpu_indices:
        visible = ",".join(str(i) for i in spec.gpu_indices)
        env["CUDA_VISIBLE_DEVICES"] = visible
        env["HIP_VISIBLE_DEVICES"] = visible
        env["GGML_VK_VISIBLE_DEVICES"] = visible
    return env
