"""The rig's model cache: copy or fetch once, verify, never leave a partial file."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from rigshift.client.http import ControlPlaneClient, Refused
from rigshift.errors import BackendError, InputError
from rigshift.run.model_cache import ModelCache
from rigshift.run.spec import ModelSource


def test_local_path_used_in_place_or_copied_once(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"weights")
    cache = ModelCache(tmp_path / "cache")
    assert cache.ensure(ModelSource("path", str(model))) == model
    copied = cache.ensure(ModelSource("path", str(model)), copy=True)
    assert copied != model and copied.read_bytes() == b"weights"
    assert cache.ensure(ModelSource("path", str(model)), copy=True) == copied
    assert cache.copies == 1
    with pytest.raises(InputError, match="not found"):
        cache.ensure(ModelSource("path", str(tmp_path / "nope.gguf")))


def _store(handler: Callable[[httpx.Request], httpx.Response]) -> ControlPlaneClient:
    return ControlPlaneClient("http://cp:8000/", "tok", transport=httpx.MockTransport(handler))


def test_store_fetch_happens_once_and_is_verified(tmp_path: Path) -> None:
    calls: list[httpx.Request] = []

    def store(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, content=b"GGUF-data")

    digest = hashlib.sha256(b"GGUF-data").hexdigest()
    cache = ModelCache(tmp_path, store=_store(store))
    source = ModelSource("store", "qwen.Q4_K_M.gguf", sha256=digest)
    first = cache.ensure(source)
    assert first.read_bytes() == b"GGUF-data"
    assert cache.ensure(source) == first
    assert [(str(r.url), r.headers["authorization"]) for r in calls] == [
        ("http://cp:8000/internal/models/qwen.Q4_K_M.gguf", "Bearer tok")
    ]

    bad = ModelSource("store", "other.gguf", sha256="0" * 64)
    with pytest.raises(BackendError, match="sha256"):
        cache.ensure(bad)
    assert not list(tmp_path.glob("**/other.gguf*"))  # no partial file left behind


def test_failed_fetch_leaves_nothing(tmp_path: Path) -> None:
    def reset_midway(request: httpx.Request) -> httpx.Response:
        def body() -> Iterator[bytes]:
            yield b"half"
            raise httpx.ReadError("connection reset", request=request)

        return httpx.Response(200, content=body())

    cache = ModelCache(tmp_path, store=_store(reset_midway))
    with pytest.raises(BackendError, match="connection reset"):
        cache.ensure(ModelSource("store", "m.gguf"))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_refused_fetch_is_the_callers_error_and_leaves_nothing(tmp_path: Path) -> None:
    cache = ModelCache(
        tmp_path, store=_store(lambda _r: httpx.Response(404, json={"error": {"message": "no model"}}))
    )
    with pytest.raises(Refused, match="404: no model"):
        cache.ensure(ModelSource("store", "m.gguf"))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_hf_cache_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snap = tmp_path / "hub" / "models--org--repo" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "model.Q4.gguf").write_bytes(b"x")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    cache = ModelCache(tmp_path / "c")
    assert cache.ensure(ModelSource("hf", "org/repo/model.Q4.gguf")) == snap / "model.Q4.gguf"
    with pytest.raises(InputError, match="not in the Hugging Face cache"):
        cache.ensure(ModelSource("hf", "org/repo/missing.gguf"))


def test_demo_model_is_generated_once(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path)
    path = cache.ensure(ModelSource("demo", "hello rigs"))
    assert path.read_bytes()[:4] == b"GGUF"
    assert cache.ensure(ModelSource("demo", "hello rigs")) == path
    assert cache.copies == 1
