"""A rig's local model cache: turn a `ModelSource` into a file on local disk, copying at most once.

Why a cache: mining rigs read models over a slow network and a USB stick or small SSD; a replica
that restarts or moves back must not fetch gigabytes again. Entries are keyed by what identifies
the content (sha256 when the source gives it, else the source's name), written to a temp file and
renamed, so a crash mid-copy never leaves a truncated model that looks complete.

Sources:
* "path":  a file on the rig or a shared mount; used in place when local, copied when `copy=True`.
* "store": the control plane's model store, `GET /internal/models/{name}` through the rig's
           control-plane client (the join token); streamed to disk, verified against sha256 when
           known.
* "hf":    "org/repo/file.gguf" inside the Hugging Face cache ($HF_HUB_CACHE or
           ~/.cache/huggingface/hub): used in place, never downloaded (rigs have no hub access).
* "demo":  the tiny generated model; `uri` is its reply text.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from rigshift.client.http import ControlPlaneClient
from rigshift.errors import BackendError, InputError, Problem
from rigshift.run.spec import ModelSource
from rigshift.run.tiny_gguf import GENERATOR_VERSION, write_tiny_gguf


def default_cache_dir() -> Path:
    base = os.environ.get("RIGSHIFT_MODEL_CACHE")
    if base:
        return Path(base)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "rigshift" / "models"


def hf_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    hf_home = os.environ.get("HF_HOME") or str(Path.home() / ".cache" / "huggingface")
    return Path(hf_home) / "hub"


class ModelCache:
    def __init__(
        self,
        root: Path | None = None,
        *,
        store: ControlPlaneClient | None = None,
    ) -> None:
        self.root = root or default_cache_dir()
        self.store = store
        self._lock = threading.Lock()  # replicas on one rig share the cache
        self.copies = 0  # how many times content was actually copied or fetched (for tests, logs)

    def ensure(self, source: ModelSource, *, copy: bool = False) -> Path:
        """A local path holding the model; fetches or copies only if the cache lacks it."""
        with self._lock:
            if source.kind == "path":
                return self._local(Path(source.uri).expanduser(), source, copy)
            if source.kind == "hf":
                return self._hf(source)
            if source.kind == "demo":
                target = self.root / "demo" / f"tiny-{_short_hash(source.uri)}-v{GENERATOR_VERSION}.gguf"
                if not target.is_file():
                    write_tiny_gguf(target, reply=source.uri)
                    self.copies += 1
                return target
            if source.kind == "store":
                return self._store(source)
        raise InputError(Problem(f"unknown model source kind {source.kind!r}", field="source.kind"))

    def _entry(self, source: ModelSource, name: str) -> Path:
        key = source.sha256 or _short_hash(f"{source.kind}:{source.uri}")
        return self.root / key / _safe_name(name)

    def _local(self, path: Path, source: ModelSource, copy: bool) -> Path:
        if not path.is_file():
            raise InputError(Problem("model file not found on this rig", str(path), field="model"))
        if not copy:
            return path
        target = self._entry(source, path.name)
        if not target.is_file():
            self._atomic(target, lambda tmp: _copy(path, tmp), source.sha256)
        return target

    def _hf(self, source: ModelSource) -> Path:
        parts = source.uri.split("/")
        if len(parts) < 3:
            raise InputError(
                Problem(
                    f"bad Hugging Face model {source.uri!r}", field="model", expected="org/repo/file.gguf"
                )
            )
        repo_dir = hf_cache_dir() / ("models--" + "--".join(parts[:2]))
        filename = "/".join(parts[2:])
        matches = sorted((repo_dir / "snapshots").glob(f"*/{filename}"))
        if not matches:
            raise InputError(
                Problem(
                    f"{filename} of {parts[0]}/{parts[1]} is not in the Hugging Face cache", str(repo_dir)
                )
            )
        return matches[-1]

    def _store(self, source: ModelSource) -> Path:
        store = self.store
        if store is None:
            raise InputError(Problem("the model is in the control plane's store but no server URL is set"))
        target = self._entry(source, source.uri)
        if target.is_file():
            return target
        path = f"/internal/models/{quote(source.uri, safe='')}"
        self._atomic(target, lambda tmp: store.download(path, tmp), source.sha256)
        return target

    def _atomic(self, target: Path, write: Callable[[Path], None], sha256: str | None) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + f".part{os.getpid()}")
        try:
            write(tmp)
            if sha256 and _file_sha256(tmp) != sha256:
                raise BackendError(f"model {target.name} does not match its sha256 {sha256[:12]}…")
            os.replace(tmp, target)
            self.copies += 1
        finally:
            tmp.unlink(missing_ok=True)


def _copy(source: Path, destination: Path) -> None:
    shutil.copyfile(source, destination)


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "model"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
