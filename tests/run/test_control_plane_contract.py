"""The data plane's HTTP calls against the real control plane app (uvicorn on loopback):
agent telemetry and the rig's model cache fetching from the model store, both with the join token."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from rigshift.client.http import ControlPlaneClient, Refused
from rigshift.fleet.model import Gpu, Rig
from rigshift.run.model_cache import ModelCache
from rigshift.run.spec import ModelSource
from rigshift.run.telemetry import StaticSampler, TelemetryReporter, post_report
from rigshift.run.tiny_gguf import write_tiny_gguf
from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.serving import serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory

pytestmark = pytest.mark.slow
JOIN = "join-" + "j" * 40


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("cp")
    store = root / "store"
    store.mkdir()
    write_tiny_gguf(store / "tiny.gguf")
    db = f"sqlite:///{root / 'cp.db'}"
    settings = ServerSettings(db_url=db, join_token=JOIN, model_store_dir=str(store))
    app = create_app(StaticDirectory([]), settings, engine=open_engine(db))
    running = serve_in_thread(app)
    yield running.url, store
    running.stop()


def test_agent_telemetry_is_accepted_only_with_the_join_token(control_plane: tuple[str, Path]) -> None:
    import httpx

    url, _ = control_plane
    rig = Rig(
        name="rig-t", site="s", gpus=[Gpu(model="geforce-rtx-3060-12gb", vram_gib=12, temperature_c=64)]
    )
    good = TelemetryReporter("rig-t", StaticSampler(rig), post_report(ControlPlaneClient(url, JOIN)))
    assert good.report_once(), good.last_error
    bad = TelemetryReporter(
        "rig-t", StaticSampler(rig), post_report(ControlPlaneClient(url, "not-the-token"))
    )
    assert not bad.report_once()
    assert "401" in (bad.last_error or "")
    metrics = httpx.get(url + "/metrics").text
    assert "rig-t" in metrics


def test_model_cache_fetches_from_the_store_once(control_plane: tuple[str, Path], tmp_path: Path) -> None:
    url, store = control_plane
    digest = hashlib.sha256((store / "tiny.gguf").read_bytes()).hexdigest()
    cache = ModelCache(tmp_path / "cache", store=ControlPlaneClient(url, JOIN))
    source = ModelSource("store", "tiny.gguf", sha256=digest)
    path = cache.ensure(source)
    assert path.read_bytes() == (store / "tiny.gguf").read_bytes()
    assert cache.ensure(source) == path and cache.copies == 1

    intruder = ModelCache(tmp_path / "other", store=ControlPlaneClient(url, "wrong"))
    with pytest.raises(Refused, match="401"):  # a refusal: the rig's token, exit 2
        intruder.ensure(source)
    with pytest.raises(Refused, match="404"):
        cache.ensure(ModelSource("store", "missing.gguf"))
