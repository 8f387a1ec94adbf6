"""Weight sizes under each quantization against llama.cpp's published file sizes."""

import pytest

from rigshift.catalog.models import load_model
from rigshift.estimate.memory import GIB
from rigshift.estimate.quants import RECIPES, quant_recipe
from rigshift.estimate.tensors import active_params, tensor_groups, weight_bytes

# Sizes llama.cpp reports (GiB) for Meta-Llama-3 GGUF files: llama-bench "model size" as quoted in
# XiongjieDai/GPU-Benchmarks-on-LLM-Inference and the llama.cpp Llama 3 70B perplexity table.
PUBLISHED_GIB = [
    ("llama-3.1-8b", "Q4_K_M", 4.58),
    ("llama-3.1-8b", "F16", 14.96),
    ("llama-3.1-70b", "Q2_K", 24.56),
    ("llama-3.1-70b", "Q3_K_M", 31.91),
    ("llama-3.1-70b", "IQ4_XS", 35.30),
    ("llama-3.1-70b", "Q4_K_M", 39.60),
    ("llama-3.1-70b", "Q5_K_M", 46.52),
    ("llama-3.1-70b", "Q6_K", 53.91),
    ("llama-3.1-70b", "Q8_0", 69.83),
]


@pytest.mark.parametrize(("model", "quant", "published"), PUBLISHED_GIB)
def test_weight_bytes_match_published_file_sizes(model: str, quant: str, published: float) -> None:
    size = weight_bytes(load_model(model), quant_recipe(quant)).total / GIB
    assert size == pytest.approx(published, rel=0.03)


def test_more_bits_never_means_smaller_weights() -> None:
    model = load_model("qwen2.5-7b")
    order = ["IQ2_XXS", "Q2_K", "Q3_K_M", "Q4_K_S", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16"]
    sizes = [weight_bytes(model, quant_recipe(q)).total for q in order]
    assert sizes == sorted(sizes)


def test_moe_reads_only_active_experts() -> None:
    model = load_model("qwen3-30b-a3b")
    wb = weight_bytes(model, quant_recipe("Q4_K_M"))
    assert wb.layers_active < 0.2 * wb.layers
    assert 2.5e9 < active_params(model) < 4.0e9  # "A3B": about 3 billion active


def test_parameter_count_from_architecture_matches_catalog() -> None:
    for key in ("llama-3.1-8b", "qwen2.5-14b", "mistral-7b", "llama-3.1-70b"):
        model = load_model(key)
        assert tensor_groups(model).total / 1e9 == pytest.approx(model.params_b, rel=0.03)


def test_quant_names_are_forgiving_but_unknown_ones_suggest() -> None:
    assert quant_recipe("q4_k_m").name == "Q4_K_M"
    assert quant_recipe("gptq-int4").name == "GPTQ-Int4"
    from rigshift.errors import UnknownNameError

    with pytest.raises(UnknownNameError) as error:
        quant_recipe("Q4_KM")
    assert "Q4_K_M" in error.value.suggestions
    assert set(RECIPES) >= {"Q2_K", "Q8_0", "IQ3_XXS", "F16", "BF16", "AWQ", "FP8"}
