"""Node labels (valid for Ray, readable back) and backend command lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from ray._private.label_utils import validate_node_label_syntax

from rigshift.fleet.model import Gpu, PcieState, Rig
from rigshift.run.backends import BackendBinary, backend_command, backend_env, find_llama_server
from rigshift.run.labels import capacity_from_labels, label_value, labels_as_cli, rig_labels
from rigshift.run.spec import ModelSource, ReplicaSpec, from_json, to_json


def test_rig_labels_pass_rays_validation_and_read_back() -> None:
    rig = Rig(
        name="north/rig 07 (the loud one) with a very long name that goes on and on and on",
        site="tx-ercot",
        gpus=[
            Gpu(model="geforce-rtx-3060-12gb", vram_gib=12, pcie=PcieState(gen=1, width=1)),
            Gpu(model="radeon-rx-580-8gb", vram_gib=8),
        ],
    )
    labels = rig_labels(rig, advertise_host="10.0.0.7")
    validate_node_label_syntax(labels)  # Ray's own check: raises on a bad key or value
    cap = capacity_from_labels(labels)
    assert cap is not None
    assert cap.rig == label_value(rig.name)
    assert cap.gpu_models == ("geforce-rtx-3060-12gb", "radeon-rx-580-8gb")
    assert labels["rigshift.io/gpu-0-pcie"] == "gen1x1"
    assert "rigshift.io/gpu-1-pcie" not in labels
    assert "," not in "".join(labels.values())
    assert labels_as_cli({"b": "2", "a": "1"}) == "a=1,b=2"


def test_label_value_is_stable_and_distinguishes_long_names() -> None:
    assert label_value("rig-01") == "rig-01"
    a, b = label_value("x" * 70 + "a"), label_value("x" * 70 + "b")
    assert a != b and len(a) <= 63 and a == label_value("x" * 70 + "a")
    assert capacity_from_labels({"other": "x"}) is None


SPEC = ReplicaSpec(
    "chat-0",
    "chat",
    "chat",
    ModelSource("path", "/m.gguf"),
    "rig-a",
    gpu_indices=(2, 3),
    gpu_models=("a", "b"),
    runtime="llama.cpp-cuda",
    context=4096,
    parallel=4,
    tensor_split=(0.6, 0.4),
)


def test_llama_server_command_carries_the_plan() -> None:
    argv = backend_command(
        BackendBinary("llama-server", ("llama-server",)), SPEC, "/m.gguf", "127.0.0.1", 9001, 2
    )
    joined = " ".join(argv)
    assert "--ctx-size 16384 --parallel 4" in joined  # llama-server divides -c among slots
    assert "--tensor-split 0.6,0.4" in joined and "--split-mode layer" in joined
    assert "--host 127.0.0.1 --port 9001" in joined and "--alias chat" in joined
    assert "--n-gpu-layers 999" in joined and "--threads 2" in joined
    env = backend_env(SPEC, {})
    assert env["CUDA_VISIBLE_DEVICES"] == "2,3" and env["HIP_VISIBLE_DEVICES"] == "2,3"


def test_the_join_token_never_reaches_a_backends_environment() -> None:
    """Issue 13: llama-server's environment carried the join token (Ray's auth token)."""
    inherited = {
        "RAY_AUTH_TOKEN": "s3cret",
        "RIGSHIFT_JOIN_TOKEN": "s3cret",
        "RIGSHIFT_ADMIN_KEY": "rs-x",
        "PATH": "/bin",
    }
    env = backend_env(SPEC, inherited)
    assert "s3cret" not in env.values() and "rs-x" not in env.values()
    assert env["PATH"] == "/bin" and inherited["RAY_AUTH_TOKEN"] == "s3cret"


def test_cpu_replica_offloads_nothing_and_other_backends() -> None:
    cpu = ReplicaSpec("c", "c", "c", ModelSource("path", "/m"), "r")
    argv = backend_command(BackendBinary("llama-server", ("ls",)), cpu, "/m", "127.0.0.1", 1)
    assert argv[argv.index("--n-gpu-layers") + 1] == "0"
    assert "--tensor-split" not in argv
    assert "CUDA_VISIBLE_DEVICES" not in backend_env(cpu, {})
    py = backend_command(
        BackendBinary("llama-cpp-python", ("python", "-m", "llama_cpp.server")), SPEC, "/m", "h", 2
    )
    assert py[:3] == ["python", "-m", "llama_cpp.server"] and "--tensor_split" in py
    vllm = backend_command(BackendBinary("vllm", ("v",)), SPEC, "/m", "h", 3)
    assert "--pipeline-parallel-size" in vllm and vllm[vllm.index("--max-num-seqs") + 1] == "4"


def test_find_llama_server_honours_the_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "llama-server"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setenv("RIGSHIFT_LLAMA_SERVER", str(fake))
    assert find_llama_server() == fake
    monkeypatch.setenv("RIGSHIFT_LLAMA_SERVER", str(tmp_path / "missing"))
    assert find_llama_server() is None


def test_specs_round_trip_through_json_and_fingerprint_ignores_id() -> None:
    assert from_json(to_json([SPEC])) == [SPEC]
    import dataclasses

    assert dataclasses.replace(SPEC, replica_id="other").fingerprint() == SPEC.fingerprint()
    assert dataclasses.replace(SPEC, context=8192).fingerprint() != SPEC.fingerprint()


def test_embedding_and_rerank_replicas_start_with_their_pooling() -> None:
    from dataclasses import replace

    binary = BackendBinary("llama-server", ("llama-server",))
    embed = " ".join(backend_command(binary, replace(SPEC, embeddings=True), "/m", "127.0.0.1", 1))
    rerank = " ".join(backend_command(binary, replace(SPEC, reranking=True), "/m", "127.0.0.1", 1))
    assert "--embeddings --pooling mean" in embed and "--reranking" not in embed
    assert "--reranking --pooling rank" in rerank and "--embeddings" not in rerank


def test_a_catalog_embedding_model_is_planned_as_an_embedding_replica() -> None:
    from rigshift.run.plan_adapter import is_embedding_model

    assert is_embedding_model("bge-small-en-v1.5")
    assert not is_embedding_model("llama-3.1-8b")
    assert not is_embedding_model("not-in-the-catalog")
