"""Hypothesis strategies for the files operators hand rigshift: plausible shapes with hostile values.

Each document is built from the real field names (so the generator reaches deep into the
parsers) mixed with typos and junk keys, and each value is drawn from plausible text, edge
numbers (negative, zero, huge, NaN, infinite) and arbitrary nested junk.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import strategies as st

from rigshift.fleet.sources.common import GPU_FIELDS, RIG_FIELDS

EDGE_NUMBERS = st.sampled_from(
    [0, -1, 1, 2, 7, 8, 12, 64, 65, 255, 256, -5, 10**9, 10**30, 2**63, 0.5, -0.0, 1e-300, 1e300,
     float("inf"), float("-inf"), float("nan")]
)  # fmt: skip
PLAUSIBLE_TEXT = st.sampled_from(
    ["RTX 3060", "RTX 3060 12GB", "RX 580", "GTX 1070 Ti", "CMP 170HX", "Card 9", "gen1x1", "gen3x16",
     "3x4", "120 W", "120.00 W", "8192 MiB", "8 GB", ".inf", "-.inf", ".nan", "1e400", "-1", "yes",
     "false", "", " ", "0000:03:00.0", "zz:03:00.0", "north", "rig-1", "llama-3.1-8b", "Q4_K_M",
     "nvidia", "amd", "x" * 300, "\u202e", "a\nb", "é"]
)  # fmt: skip
# Generation is most of a fuzz test's time: few branches, small collections, shallow junk.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    EDGE_NUMBERS,
    PLAUSIBLE_TEXT,
    st.text(max_size=6),
)
JUNK = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=2),
    st.dictionaries(st.text(max_size=4), SCALARS, max_size=2),
)
VALUES = st.one_of(SCALARS, JUNK)


def keys(known: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(known), st.text(max_size=6))


def records(known: list[str], max_size: int = 5) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(keys(known), VALUES, max_size=max_size)


def mutated(
    base: dict[str, Any], fields: list[str], values: st.SearchStrategy[Any] = VALUES, max_changes: int = 2
) -> st.SearchStrategy[dict[str, Any]]:
    """A valid document with up to `max_changes` fields replaced (or added, or deleted): most
    inputs are one mistake away from valid, so the generator reaches the paths that succeed and
    the checks that come after the first one."""
    deleted = object()
    changes = st.dictionaries(
        st.sampled_from(fields), st.one_of(values, st.just(deleted)), max_size=max_changes
    )
    return changes.map(lambda c: {k: v for k, v in {**base, **c}.items() if v is not deleted})


GPU_PLAUSIBLE = st.one_of(VALUES, PLAUSIBLE_TEXT, EDGE_NUMBERS)
GPU_ENTRY = st.one_of(
    records([*GPU_FIELDS, "vram_gb", "modle"]),
    mutated({"model": "RTX 3060", "count": 2, "pcie": "gen1x1"}, [*GPU_FIELDS, "vram_gb"], GPU_PLAUSIBLE),
    mutated({"model": "Card 9", "vram_gib": 8, "bus_id": "0000:03:00.0"}, list(GPU_FIELDS), GPU_PLAUSIBLE),
)
RIG = st.builds(
    lambda base, gpus: {**base, **({"gpus": gpus} if gpus is not None else {})},
    st.one_of(
        records([*RIG_FIELDS, "nmae"], max_size=5),
        mutated({"name": "rig-1", "site": "north", "ram_gib": 8}, [*RIG_FIELDS, "nmae"], GPU_PLAUSIBLE, 1),
    ),
    st.one_of(st.none(), st.lists(st.one_of(GPU_ENTRY, GPU_ENTRY, JUNK), max_size=4), JUNK),
)
VALID_GPU = {"model": "RTX 3060", "count": 2, "pcie": "gen1x1"}
NEAR_VALID_FLEET = st.builds(  # one rig, one mistake away from valid
    lambda rig, gpus: {"fleet": "farm", "rigs": [{**rig, "gpus": gpus}]},
    mutated({"name": "rig-1", "site": "north"}, [*RIG_FIELDS, "nmae"], GPU_PLAUSIBLE, 1),
    st.lists(mutated(VALID_GPU, [*GPU_FIELDS, "vram_gb"], GPU_PLAUSIBLE, 1), min_size=1, max_size=3),
)
FLEET_YAML_DOC = st.one_of(
    NEAR_VALID_FLEET,
    st.builds(  # one rig, one mistake away from valid
        lambda rig, gpus: {"fleet": "farm", "rigs": [{**rig, "gpus": gpus}]},
        mutated({"name": "rig-1", "site": "north"}, [*RIG_FIELDS, "nmae"], GPU_PLAUSIBLE, 1),
        st.lists(mutated(VALID_GPU, [*GPU_FIELDS, "vram_gb"], GPU_PLAUSIBLE, 1), min_size=1, max_size=3),
    ),
    st.fixed_dictionaries(
        {"rigs": st.one_of(st.lists(st.one_of(RIG, RIG, JUNK), max_size=4), JUNK)},
        optional={"fleet": VALUES, "sites": st.one_of(st.lists(records(["name", "power_budget_kw", "pue", "power_price_usd_kwh"]), max_size=2), JUNK), "extra": VALUES},
    ),
    JUNK,
)  # fmt: skip

CSV_COLUMNS = ["rig", *(k for k in RIG_FIELDS if k != "name"), *GPU_FIELDS, "gpu", "vram"]


@st.composite
def csv_text(draw: st.DrawFn) -> str:
    header = draw(
        st.lists(st.one_of(st.sampled_from(CSV_COLUMNS), st.text(max_size=8)), min_size=0, max_size=8)
    )
    rows = draw(
        st.lists(
            st.lists(
                st.one_of(PLAUSIBLE_TEXT, st.text(max_size=8), EDGE_NUMBERS.map(str)),
                max_size=len(header) + 2,
            ),
            max_size=5,
        )
    )
    cell = lambda c: '"' + c.replace('"', '""') + '"' if any(ch in c for ch in ',"\n\r') else c  # noqa: E731
    return "\n".join(",".join(cell(c) for c in row) for row in [header, *rows]) + "\n"


HIVEOS_GPU = records(
    ["brand", "model", "short_name", "bus_number", "bus_id", "index", "details", "power_limit"]
)
HIVEOS_WORKER = st.builds(
    lambda base, info, stats, hw, miners: {**base, "gpu_info": info, "gpu_stats": stats, "hardware_info": hw, "miners_stats": miners},
    records(["name", "id", "hardware_stats", "units_count"]),
    st.one_of(st.lists(st.one_of(HIVEOS_GPU, st.builds(lambda g, d: {**g, "details": d}, HIVEOS_GPU, records(["mem", "mem_gb", "mem_type"]))), max_size=4), JUNK),
    st.one_of(st.lists(records(["bus_number", "temp", "fan", "power", "memtemp"]), max_size=4), JUNK),
    st.one_of(st.fixed_dictionaries({}, optional={"cpu": records(["model", "cores"]), "motherboard": VALUES, "disk": records(["size", "model"])}), JUNK),
    st.one_of(st.fixed_dictionaries({"hashrates": st.lists(records(["hashes", "bus_numbers", "algo"]), max_size=2)}), JUNK),
)  # fmt: skip
HIVEOS_DOC = st.one_of(
    st.fixed_dictionaries({"data": st.lists(st.one_of(HIVEOS_WORKER, JUNK), max_size=3)}),
    st.lists(HIVEOS_WORKER, max_size=3),
    st.fixed_dictionaries(
        {"farm": st.one_of(records(["name", "power_price", "power_price_currency"]), JUNK),
         "workers": st.one_of(st.lists(HIVEOS_WORKER, max_size=2), JUNK),
         "gpus": st.one_of(st.lists(st.fixed_dictionaries({"worker": records(["id", "name"])}, optional={"info": JUNK, "stats": JUNK, "model": VALUES}), max_size=3), JUNK)}
    ),
    JUNK,
)  # fmt: skip
MINERSTAT_WORKER = st.fixed_dictionaries(
    {},
    optional={
        "hardware": st.one_of(st.lists(st.one_of(records(["name", "temp", "fan", "power", "speed"]), JUNK), max_size=4), JUNK),
        "revenue": st.one_of(records(["usd_day"]), JUNK),
        "mining": st.one_of(st.fixed_dictionaries({}, optional={"hashrate": records(["hashrate", "hashrate_unit"]), "crypto": VALUES, "algorithm": VALUES}), JUNK),
        "info": JUNK,
        "name": VALUES,
    },
)  # fmt: skip
MINERSTAT_DOC = st.one_of(
    st.dictionaries(st.text(max_size=8), st.one_of(MINERSTAT_WORKER, JUNK), max_size=3),
    st.lists(MINERSTAT_WORKER, max_size=3),
    JUNK,
)

DEPLOYMENT_FIELDS = ["name", "model", "quant", "context", "parallel", "kv_type", "runtime", "replicas", "throughput", "value", "constraints"]  # fmt: skip
DEPLOYMENT = st.builds(
    lambda base, replicas, throughput, value, constraints: {
        **base,
        **({"replicas": replicas} if replicas is not None else {}),
        **({"throughput": throughput} if throughput is not None else {}),
        "value": value,
        "constraints": constraints,
    },
    records(DEPLOYMENT_FIELDS),
    st.one_of(st.none(), VALUES, records(["min", "max"])),
    st.one_of(
        st.none(),
        records(["tokens_per_s", "requests_per_s", "prompt_tokens", "output_tokens", "max_replicas"]),
    ),
    st.one_of(records(["usd_per_mtok", "priority"]), JUNK),
    st.one_of(records(["sites", "labels", "gpu_models", "same_rig"]), JUNK),
)
DEMAND_PLAUSIBLE = st.one_of(
    VALUES,
    st.sampled_from([1, 4, 128, 4096, 2**20, 10**9, 0.1, "qwen2.5-1.5b", "llama-3.1-8b", "./x.gguf", "Q8_0", "q4_k_m",
                     "f16", "q8_0", "llama.cpp-cuda", "vllm", {"min": 1, "max": 2}, {"min": 3, "max": 1},
                     {"min": 0, "max": 10**9}, {"tokens_per_s": 100}, {"requests_per_s": 1, "output_tokens": 10**8},
                     {"usd_per_mtok": 1e300}, {"priority": -1}, {"sites": ["north"]}, {"gpu_models": ["x"]}]),
)  # fmt: skip
VALID_DEPLOYMENT = {
    "name": "chat",
    "model": "qwen2.5-1.5b",
    "context": 4096,
    "replicas": {"min": 1, "max": 4},
    "value": {"usd_per_mtok": 0.1},
}
NEAR_VALID_DEMAND = st.builds(
    lambda d, options: {"deployments": [d], **({"options": options} if options else {})},
    mutated(VALID_DEPLOYMENT, DEPLOYMENT_FIELDS, DEMAND_PLAUSIBLE, 1),
    st.one_of(st.just({}), st.just({}), records(["vram_reserve_gib", "time_limit_s", "solver", "power_cap_fractions", "max_pack_per_gpu"], 1)),
)  # fmt: skip
DEMAND_DOC = st.one_of(
    NEAR_VALID_DEMAND,
    NEAR_VALID_DEMAND,
    st.fixed_dictionaries(
        {"deployments": st.one_of(st.lists(st.one_of(DEPLOYMENT, DEPLOYMENT, JUNK), max_size=3), JUNK)},
        optional={
            "options": st.one_of(records(["vram_reserve_gib", "time_limit_s", "solver", "mip_gap"]), JUNK)
        },
    ),
    JUNK,
)

PRICE_SECTIONS = {
    "power": ["usd_per_kwh", "pue", "host_w_per_rig", "idle_w_per_gpu", "override_sites", "series", "as_of"],
    "rent": ["rental_utilisation", "marketplace_fee", "usd_per_gpu_hour"],
    "tokens": ["utilisation", "input_tokens_per_request", "output_tokens_per_request", "parallel", "context", "classes"],
    "mining": ["btc_usd", "pool_fee", "hashrates", "coins"],
    "capital": ["resale_usd", "buy_usd", "riser_usd", "horizon_months", "cost_of_capital_annual", "gpus_per_host"],
    "constraints": ["capex_budget_usd", "site_power_kw"],
}  # fmt: skip
TABLE = st.dictionaries(
    st.one_of(st.sampled_from(["RTX 3060", "RX 580", "rtx 3600"]), st.text(max_size=6)), VALUES, max_size=2
)
TOKEN_CLASS = records(["model", "quant", "input", "output"])
PRICES_DOC = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            section: st.one_of(
                st.builds(
                    lambda base, table, classes: {**base, **table, **classes},
                    records(fields, max_size=4),
                    st.one_of(
                        st.just({}), st.builds(lambda t: {"usd_per_gpu_hour": t, "resale_usd": t}, TABLE)
                    ),
                    st.one_of(st.just({}), st.builds(lambda c: {"classes": {"c": c}}, TOKEN_CLASS)),
                ),
                JUNK,
            )
            for section, fields in PRICE_SECTIONS.items()
        },
    ),
    JUNK,
)

CONFIG_KEYS = ["model_type", "num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads",
               "head_dim", "intermediate_size", "vocab_size", "max_position_embeddings", "num_local_experts",
               "num_experts_per_tok", "moe_intermediate_size", "sliding_window", "layer_types",
               "tie_word_embeddings", "text_config", "torch_dtype", "use_sliding_window", "max_window_layers",
               "sliding_window_pattern", "n_positions", "shared_expert_intermediate_size"]  # fmt: skip
CONFIG_NUMBERS = st.one_of(
    st.sampled_from([0, 1, 2, 3, 4, 8, 32, 128, 4096, 8192, 32000, 131072, -4, 10**12, 2**40]), EDGE_NUMBERS
)
LLAMA_CONFIG = {
    "model_type": "llama",
    "num_hidden_layers": 32,
    "hidden_size": 4096,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "intermediate_size": 14336,
    "vocab_size": 128256,
    "max_position_embeddings": 131072,
}
MOE_CONFIG = {**LLAMA_CONFIG, "model_type": "mixtral", "num_local_experts": 8, "num_experts_per_tok": 2}
CONFIG_DOC = st.one_of(
    mutated(LLAMA_CONFIG, CONFIG_KEYS, st.one_of(CONFIG_NUMBERS, VALUES), 3),
    mutated(LLAMA_CONFIG, CONFIG_KEYS, CONFIG_NUMBERS, 2),
    mutated(MOE_CONFIG, CONFIG_KEYS, st.one_of(CONFIG_NUMBERS, VALUES), 3),
    st.builds(
        lambda base, numbers: {**base, **numbers},
        records(CONFIG_KEYS),
        st.dictionaries(st.sampled_from(CONFIG_KEYS[1:]), CONFIG_NUMBERS, min_size=3, max_size=14),
    ),
    JUNK,
)


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def as_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_DUMPER, allow_unicode=True, sort_keys=False)


def as_json(data: Any) -> str:
    return json.dumps(data, allow_nan=True)  # NaN and Infinity tokens too: users' files have them
