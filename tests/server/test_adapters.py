"""Tenants' LoRA adapters: upload checks on real GGUF bytes, privacy, and the gateway's rewrite."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from rigshift.gguf_files import gguf_writer
from rigshift.run.adapter_placement import ADAPTERS_LABEL, adapter_label, place_adapters
from rigshift.run.backends import BackendBinary, backend_command
from rigshift.run.spec import AdapterRef, ModelSource, ReplicaSpec, from_json, to_json
from rigshift.run.tiny_gguf import vocab_size, write_tiny_gguf
from rigshift.run.tiny_lora import write_tiny_lora
from rigshift.server.adapter_check import check_adapter
from rigshift.server.adapter_routing import with_lora
from rigshift.server.errors import BadRequest
from rigshift.server.stores.usage import UsageStore

from .conftest import replica


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("base") / "tiny.gguf")


def _gguf(path: Path, arch: str, tensors: dict[str, np.ndarray], kind: str = "adapter") -> Path:
    import gguf

    with gguf_writer(path, arch) as writer:
        writer.add_type(kind)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 8.0)
        for name, array in tensors.items():
            writer.add_tensor(name, array)
    return path


# --- the checks, on real GGUF files --------------------------------------------------------------


def test_a_fitting_adapter_passes_with_its_rank_and_alpha(base, tmp_path):
    header = check_adapter(write_tiny_lora(tmp_path / "a.gguf", rank=4, alpha=8.0), base)
    assert (header.architecture, header.rank, header.alpha, header.tensors) == ("llama", 4, 8.0, 1)


def _refusal(adapter: Path, base: Path) -> BadRequest:
    with pytest.raises(BadRequest) as raised:
        check_adapter(adapter, base)
    return raised.value


def test_an_adapter_for_another_vocabulary_names_the_tensor_and_both_shapes(base, tmp_path):
    # A base with a shorter reply has a smaller vocabulary: its output head is another shape.
    other = write_tiny_lora(tmp_path / "other.gguf", reply="one two three")
    error = _refusal(other, base)
    assert error.code == "shape_mismatch"
    theirs, ours = vocab_size("one two three"), vocab_size()
    assert theirs != ours
    assert (
        "'output.weight'" in str(error) and f"[1, {theirs}]" in str(error) and f"[64, {ours}]" in str(error)
    )


def test_other_architecture_and_unknown_tensors_and_non_adapters_are_refused(base, tmp_path):
    a = np.zeros((1, 64), np.float32)
    b = np.zeros((64, 1), np.float32)
    gpt2 = _gguf(
        tmp_path / "gpt2.gguf", "gpt2", {"blk.0.attn_q.weight.lora_a": a, "blk.0.attn_q.weight.lora_b": b}
    )
    error = _refusal(gpt2, base)
    assert error.code == "architecture_mismatch" and "'gpt2'" in str(error) and "'llama'" in str(error)

    extra = _gguf(
        tmp_path / "x.gguf", "llama", {"blk.9.attn_q.weight.lora_a": a, "blk.9.attn_q.weight.lora_b": b}
    )
    error = _refusal(extra, base)
    assert error.code == "tensor_mismatch" and "blk.9.attn_q.weight" in str(error)

    lonely = _gguf(tmp_path / "l.gguf", "llama", {"blk.0.attn_q.weight.lora_a": a})
    assert "to pair with" in str(_refusal(lonely, base))

    assert _refusal(base, base).code == "not_a_lora_adapter"  # a full model is not an adapter
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\xff" * 64)
    assert _refusal(junk, base).code == "invalid_gguf"


def test_the_generator_is_deterministic(tmp_path):
    one = write_tiny_lora(tmp_path / "1.gguf").read_bytes()
    assert one == write_tiny_lora(tmp_path / "2.gguf").read_bytes()
    assert one != write_tiny_lora(tmp_path / "3.gguf", start_word=3).read_bytes()


# --- the per-request rewrite -----------------------------------------------------------------------


def _with(adapters: list[str]):
    return replace(
        replica("r", "http://x"), labels={ADAPTERS_LABEL: json.dumps(adapters)} if adapters else {}
    )


def test_the_adapter_gets_its_own_id_and_a_base_request_switches_every_adapter_off():
    loaded = _with(["ft:tiny:k1::a", "ft:tiny:k2::b"])
    body = {"model": "ft:tiny:k2::b", "prompt": "hi"}
    raw = with_lora(body, json.dumps(body).encode() + b"\n", loaded, "ft:tiny:k2::b")
    assert raw is not None and json.loads(raw)["lora"] == [{"id": 1, "scale": 1.0}] == body["lora"]
    base = {"model": "tiny", "prompt": "hi"}
    assert json.loads(with_lora(base, json.dumps(base).encode(), loaded, None) or b"")["lora"] == [
        {"id": 0, "scale": 0.0}
    ]


def test_a_clients_own_lora_field_never_reaches_a_backend():
    forged = {"model": "tiny", "prompt": "hi", "lora": [{"id": 1, "scale": 1.0}]}
    raw = with_lora(forged, json.dumps(forged).encode(), _with(["ft:tiny:k1::a", "ft:tiny:k2::b"]), None)
    assert json.loads(raw or b"")["lora"] == [{"id": 0, "scale": 0.0}]
    plain = {"model": "tiny", "prompt": "hi", "lora": [{"id": 0, "scale": 1.0}]}
    assert "lora" not in json.loads(with_lora(plain, json.dumps(plain).encode(), _with([]), None) or b"")


def test_a_replica_without_the_adapter_is_not_used_for_it():
    body = {"model": "ft:tiny:k1::a", "prompt": "hi"}
    assert with_lora(body, json.dumps(body).encode(), _with(["ft:tiny:k1::other"]), "ft:tiny:k1::a") is None


# --- placement and the backend's command line ------------------------------------------------------


def test_every_replica_of_the_base_loads_its_adapters_in_order_and_they_restart_it():
    specs = [
        ReplicaSpec("tiny-0", "d", "tiny", ModelSource("demo", "x"), "rig-a"),
        ReplicaSpec("big-0", "d", "big", ModelSource("demo", "y"), "rig-b"),
    ]
    refs = [
        ("tiny", AdapterRef(f"ft:tiny:k::{n}", ModelSource("store", f"adapter-{n}.gguf", "00"))) for n in "ab"
    ]
    placed = place_adapters(specs, refs)
    assert [a.model for a in placed[0].adapters] == ["ft:tiny:k::a", "ft:tiny:k::b"] and placed[
        1
    ].adapters == ()
    assert placed[0].fingerprint() != specs[0].fingerprint()  # a new adapter list means a restart
    assert from_json(to_json(placed)) == placed
    assert json.loads(adapter_label(placed[0])[ADAPTERS_LABEL]) == ["ft:tiny:k::a", "ft:tiny:k::b"]
    argv = backend_command(
        BackendBinary("llama-server", ("llama-server",)), placed[0], "m.gguf", "h", 1, None, ["a", "b"]
    )
    assert argv[argv.index("--lora") :][:5] == ["--lora", "a", "--lora", "b", "--lora-init-without-apply"]


# --- over HTTP: upload, privacy, routing, metering ------------------------------------------------


def test_upload_route_and_meter_a_tenants_adapter(gateway, backends, base, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "tiny.gguf").write_bytes(base.read_bytes())
    backend = backends()
    gw = gateway([replica("r0", backend.url, model="tiny")], model_store_dir=str(store))
    owner, other = gw.key("owner"), gw.key("other")
    lora = write_tiny_lora(tmp_path / "a.gguf").read_bytes()

    def upload(content: bytes, key: str = owner, **params: str) -> httpx.Response:
        return httpx.post(
            gw.url + "/v1/adapters",
            params={"model": "tiny", **params},
            content=content,
            headers={"authorization": f"Bearer {key}"},
        )

    wrong = upload(write_tiny_lora(tmp_path / "w.gguf", reply="one two three").read_bytes())
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "shape_mismatch"
    assert upload(lora, sha256="0" * 64).json()["error"]["code"] == "checksum_mismatch"
    assert upload(lora, model="nope").status_code == 404
    assert sorted(p.name for p in store.iterdir()) == ["tiny.gguf"]  # nothing stored by a failure

    made = upload(lora, sha256=hashlib.sha256(lora).hexdigest())
    assert made.status_code == 201, made.text
    adapter = made.json()["id"]
    with pytest.raises(openai.InternalServerError) as loading:  # its replica has not restarted yet
        gw.client(owner).completions.create(model=adapter, prompt="hi", max_tokens=2)
    assert loading.value.status_code == 503 and loading.value.code == "adapter_loading"
    assert backend.state.bodies == []
    assert adapter.startswith("ft:tiny:") and adapter.count("::") == 1
    gw.directory._replicas["r0"] = replace(
        gw.directory._replicas["r0"], labels={ADAPTERS_LABEL: json.dumps([adapter])}
    )  # what the data plane publishes once the replica restarted with the adapter

    mine = gw.client(owner)
    assert adapter in [m.id for m in mine.models.list()]
    assert adapter not in [m.id for m in gw.client(other).models.list()]
    with pytest.raises(openai.NotFoundError) as refused:
        gw.client(other).completions.create(model=adapter, prompt="hi", max_tokens=2)
    assert refused.value.code == "model_not_found"
    assert (
        httpx.get(gw.url + "/v1/adapters", headers={"authorization": f"Bearer {other}"}).json()["data"] == []
    )

    mine.completions.create(model=adapter, prompt="hi", max_tokens=2)
    with pytest.raises(openai.BadRequestError):  # a client may not pick adapters by llama.cpp id
        mine.completions.create(
            model="tiny", prompt="hi", max_tokens=2, extra_body={"lora": [{"id": 0, "scale": 1}]}
        )
    mine.completions.create(model="tiny", prompt="hi", max_tokens=2)
    assert [b["lora"] for b in backend.state.bodies] == [[{"id": 0, "scale": 1.0}], [{"id": 0, "scale": 0.0}]]
    rows = UsageStore(gw.engine).records()
    assert sorted(r.model for r in rows) == sorted([adapter, "tiny"])

    assert (
        httpx.delete(
            gw.url + "/v1/adapters/" + adapter, headers={"authorization": f"Bearer {other}"}
        ).status_code
        == 404
    )
    gone = httpx.delete(gw.url + "/v1/adapters/" + adapter, headers={"authorization": f"Bearer {owner}"})
    assert gone.status_code == 200
    with pytest.raises(openai.NotFoundError):
        mine.completions.create(model=adapter, prompt="hi", max_tokens=2)


def test_a_replica_without_adapters_keeps_its_fingerprint_and_plan_shape():
    spec = ReplicaSpec("tiny-0", "d", "tiny", ModelSource("demo", "x"), "rig-a")
    assert "adapters" not in json.loads(to_json([spec]))[0]  # as before adapters existed
    assert spec.fingerprint() == place_adapters([spec], [])[0].fingerprint()


class _Manager:
    """The two things the server uses of `ReplicaManager`."""

    def __init__(self, specs: list[ReplicaSpec]) -> None:
        self.desired = specs

    def apply(self, specs: list[ReplicaSpec]) -> None:
        self.desired = list(specs)


def test_an_upload_places_the_adapter_on_the_bases_replicas_and_a_new_plan_keeps_it(engine, base, tmp_path):
    from rigshift.run.manager import ReplicaManager
    from rigshift.run.spec import to_dict
    from rigshift.server.app import create_app
    from rigshift.server.serving import serve_in_thread
    from rigshift.server.settings import ServerSettings
    from rigshift.server.static_directory import StaticDirectory

    from .conftest import Gateway

    store = tmp_path / "store"
    store.mkdir()
    (store / "tiny.gguf").write_bytes(base.read_bytes())
    plan = [
        ReplicaSpec("tiny-0", "d", "tiny", ModelSource("store", "tiny.gguf"), "rig-a"),
        ReplicaSpec("other-0", "d", "other", ModelSource("store", "other.gguf"), "rig-a"),
    ]
    manager = _Manager(list(plan))
    settings = ServerSettings(join_token="t", model_store_dir=str(store))
    server = serve_in_thread(create_app(StaticDirectory([]), settings, engine=engine, manager=manager))  # type: ignore[arg-type]
    try:
        gw = Gateway(server, engine, StaticDirectory([]))
        lora = write_tiny_lora(tmp_path / "a.gguf").read_bytes()
        made = httpx.post(
            server.url + "/v1/adapters",
            params={"model": "tiny"},
            content=lora,
            headers={"authorization": f"Bearer {gw.key('owner')}"},
        ).json()
        placed = manager.desired[0].adapters
        assert [a.model for a in placed] == [made["id"]] and manager.desired[1].adapters == ()
        assert (
            placed[0].source.kind == "store" and placed[0].source.sha256 == hashlib.sha256(lora).hexdigest()
        )
        assert (store / placed[0].source.uri).read_bytes() == lora  # what the rig will fetch
        endpoint = ReplicaManager._endpoint(manager.desired[0], "ready", "http://x", {})
        assert json.loads(endpoint.labels[ADAPTERS_LABEL]) == [made["id"]]

        admin = {"authorization": f"Bearer {gw.key('ops', admin=True)}"}
        body = json.dumps([to_dict(s) for s in plan])
        assert httpx.put(server.url + "/admin/deployments", content=body, headers=admin).status_code == 202
        assert [a.model for a in manager.desired[0].adapters] == [made["id"]]  # a new plan keeps it
        listed = httpx.get(server.url + "/admin/deployments", headers=admin).json()["data"]
        again = httpx.put(server.url + "/admin/deployments", content=json.dumps(listed), headers=admin)
        assert again.status_code == 202 and [a.model for a in manager.desired[0].adapters] == [made["id"]]
    finally:
        server.stop()


def test_a_restarted_server_hands_its_manager_the_stored_plan_with_the_adapters(engine):
    from rigshift.server.cluster import stored_with_adapters
    from rigshift.server.stores.adapters import Adapter, AdapterStore

    AdapterStore(engine).add(Adapter("ft:tiny:k::1", "k", "tiny", "adapter-1.gguf", 9, "ab", 1.0, 1, 1.0))
    plan = [ReplicaSpec("tiny-0", "d", "tiny", ModelSource("store", "tiny.gguf"), "rig-a")]
    restored = stored_with_adapters(plan, engine)
    assert restored[0].adapters == (AdapterRef("ft:tiny:k::1", ModelSource("store", "adapter-1.gguf", "ab")),)
