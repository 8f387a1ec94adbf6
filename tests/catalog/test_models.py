"""The model catalog: its numbers hold together, and people's spellings find the right model."""

from __future__ import annotations

import dataclasses

import pytest

from rigshift.catalog.model_files import parameter_count_from_architecture
from rigshift.catalog.model_spec import ModelSpec
from rigshift.catalog.models import (
    ModelCatalog,
    _parse_catalog,
    load_model,
    model_catalog,
    normalise_model_name,
)
from rigshift.errors import InputError, UnknownNameError

CATALOG = model_catalog().all()
BY_KEY = {spec.key: spec for spec in CATALOG}
# Architectures whose head_dim is hidden_size / n_heads by construction (no head_dim key in config).
DERIVED_HEAD_DIM = {"llama", "qwen2", "phi3", "mixtral", "bert", "nomic-bert"}
DENSE_DECODERS = {"llama", "qwen2", "qwen3", "mistral", "phi3", "gemma2"}


def active_parameters(spec: ModelSpec) -> int:
    """Weights one token touches: a MoE model counted as if it had only its routed experts."""
    return parameter_count_from_architecture(dataclasses.replace(spec, n_experts=spec.n_active_experts))


# --- the catalog as data --------------------------------------------------------------------


def test_catalog_is_large_and_keys_are_unique() -> None:
    assert len(CATALOG) >= 30
    assert len(BY_KEY) == len(CATALOG)


def test_catalog_loads_once() -> None:
    assert model_catalog() is model_catalog()


def test_chat_models_span_half_a_billion_to_seventy_two_billion() -> None:
    chat_sizes = [spec.params_b for spec in CATALOG if spec.kind == "chat"]
    assert min(chat_sizes) <= 0.5
    assert max(chat_sizes) >= 72
    assert sum(1 for size in chat_sizes if 6 <= size <= 15) >= 10  # the sizes one mining card can hold


def test_mixture_of_experts_models_use_fewer_weights_per_token_than_they_store() -> None:
    moe = [spec for spec in CATALOG if spec.is_moe]
    assert {spec.key for spec in moe} >= {"mixtral-8x7b", "qwen3-30b-a3b"}
    for spec in moe:
        assert 0 < spec.n_active_experts < spec.n_experts
        assert active_parameters(spec) < 0.5 * spec.params_b * 1e9
    # Qwen3-30B-A3B is named for its ~3B active parameters; Mixtral's card says 12.9B active.
    assert active_parameters(BY_KEY["qwen3-30b-a3b"]) / 1e9 == pytest.approx(3.3, abs=0.1)
    assert active_parameters(BY_KEY["mixtral-8x7b"]) / 1e9 == pytest.approx(12.9, abs=0.1)


def test_embedding_models_are_present_and_small() -> None:
    embedders = {spec.key: spec for spec in CATALOG if spec.kind == "embedding"}
    assert {"bge-small-en-v1.5", "nomic-embed-text-v1.5"} <= set(embedders)
    assert len(embedders) >= 4
    assert all(spec.params_b < 1 and not spec.is_moe for spec in embedders.values())


@pytest.mark.parametrize("spec", CATALOG, ids=lambda spec: spec.key)
def test_attention_shapes_are_consistent(spec: ModelSpec) -> None:
    assert spec.n_heads % spec.n_kv_heads == 0
    assert spec.head_dim in (32, 64, 96, 128, 256)
    if spec.architecture in DERIVED_HEAD_DIM:
        assert spec.head_dim * spec.n_heads == spec.hidden_size
    assert spec.sliding_window_layers <= spec.n_layers
    assert (spec.sliding_window is None) == (spec.sliding_window_layers == 0)
    assert spec.source and spec.source.startswith("https://huggingface.co/")


@pytest.mark.parametrize("spec", CATALOG, ids=lambda spec: spec.key)
def test_parameter_count_matches_the_architecture(spec: ModelSpec) -> None:
    """A typo in layers, widths or vocabulary moves the count by far more than the slack."""
    counted = parameter_count_from_architecture(spec) / 1e9
    if spec.architecture == "gemma3":
        # Published totals include the 417M-parameter SigLIP vision tower the decoder count omits.
        assert spec.params_b - counted == pytest.approx(0.417, abs=0.02)
    elif spec.architecture in DENSE_DECODERS:
        assert counted == pytest.approx(spec.params_b, rel=0.01)
    else:
        assert counted == pytest.approx(spec.params_b, rel=0.03)


def test_sliding_window_layouts_follow_each_family() -> None:
    for size in ("2b", "9b", "27b"):
        gemma2 = BY_KEY[f"gemma-2-{size}"]
        assert (gemma2.sliding_window, gemma2.sliding_window_layers) == (4096, gemma2.n_layers // 2)
    for size in ("4b", "12b", "27b"):
        gemma3 = BY_KEY[f"gemma-3-{size}"]
        assert gemma3.sliding_window == 1024
        assert gemma3.n_layers - gemma3.sliding_window_layers == gemma3.n_layers // 6  # the global layers
    assert BY_KEY["mistral-7b-v0.3"].sliding_window is None
    assert BY_KEY["qwen2.5-7b"].sliding_window is None


def test_context_lengths_are_the_native_ones() -> None:
    assert BY_KEY["llama-3.1-8b"].context_length == 131072
    assert all(BY_KEY[f"qwen2.5-{s}"].context_length == 32768 for s in ("0.5b", "7b", "72b"))
    assert BY_KEY["mixtral-8x7b"].context_length == 32768


def test_small_models_tie_their_embeddings_and_large_ones_do_not() -> None:
    assert BY_KEY["llama-3.2-1b"].tied_embeddings and BY_KEY["qwen2.5-0.5b"].tied_embeddings
    assert not BY_KEY["llama-3.1-8b"].tied_embeddings and not BY_KEY["qwen2.5-72b"].tied_embeddings


def test_a_malformed_entry_is_reported_with_its_key_and_field() -> None:
    text = """
- key: broken
  name: Broken
  architecture: llama
  kind: chat
  params_b: -1
"""
    with pytest.raises(InputError) as caught:
        _parse_catalog(text, "models.yaml")
    rendered = str(caught.value)
    assert "models.yaml:[broken]" in rendered
    assert "params_b" in rendered and "n_layers" in rendered


def test_two_models_claiming_one_alias_is_refused() -> None:
    first, second = BY_KEY["llama-3.1-8b"], BY_KEY["qwen3-8b"]
    with pytest.raises(InputError, match="matches both"):
        ModelCatalog((first, dataclasses.replace(second, aliases=("Llama-3.1-8B",))))


# --- finding models by name -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("llama-3.1-8b", "llama-3.1-8b"),
        ("Llama-3.1-8B-Instruct", "llama-3.1-8b"),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b"),
        ("llama3.1:8b", "llama-3.1-8b"),
        ("LLAMA 3.1 8B", "llama-3.1-8b"),
        ("qwen2.5-7b", "qwen2.5-7b"),
        ("Qwen/Qwen2.5-7B-Instruct", "qwen2.5-7b"),
        ("Qwen2.5-7B", "qwen2.5-7b"),
        ("qwen 2.5 7b", "qwen2.5-7b"),
        ("Qwen/Qwen3-30B-A3B", "qwen3-30b-a3b"),
        ("google/gemma-2-9b-it", "gemma-2-9b"),
        ("gemma3:27b", "gemma-3-27b"),
        ("mistralai/Mistral-7B-Instruct-v0.3", "mistral-7b-v0.3"),
        ("mistralai/Mistral-Nemo-Instruct-2407", "mistral-nemo-12b"),
        ("microsoft/Phi-3-mini-4k-instruct", "phi-3-mini"),
        ("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B", "deepseek-r1-distill-qwen-14b"),
        ("HuggingFaceTB/SmolLM2-360M-Instruct", "smollm2-360m"),
        ("BAAI/bge-small-en-v1.5", "bge-small-en-v1.5"),
        ("nomic-embed-text", "nomic-embed-text-v1.5"),
    ],
)
def test_names_people_type_find_the_model(spelling: str, key: str) -> None:
    assert model_catalog().get(spelling).key == key
    assert load_model(spelling).key == key


def test_similar_names_stay_distinct() -> None:
    catalog = model_catalog()
    assert catalog.get("qwen2.5-7b").key != catalog.get("deepseek-r1-distill-qwen-7b").key
    assert catalog.get("llama-3.1-70b").key != catalog.get("llama-3.3-70b").key


def test_normalised_names_drop_org_case_and_instruct_suffix() -> None:
    assert normalise_model_name("meta-llama/Llama-3.1-8B-Instruct") == "llama-3.1-8b"
    assert normalise_model_name("google/gemma-2-9b-it") == "gemma-2-9b"
    assert normalise_model_name("Qwen2.5-7B-Instruct.gguf") == "qwen2.5-7b"


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError) as caught:
        model_catalog().get("llama-3.1-9b")
    error = caught.value
    assert "llama-3.1-8b" in error.suggestions
    assert error.problems[0].field == "model"
    assert "did you mean" in str(error)
    assert error.exit_code == 2


def test_load_model_reports_a_missing_gguf_file_rather_than_an_unknown_name(tmp_path) -> None:
    missing = tmp_path / "nowhere.gguf"
    with pytest.raises(InputError, match="file not found") as caught:
        load_model(str(missing))
    assert not isinstance(caught.value, UnknownNameError)
    assert str(missing) in str(caught.value)
