"""Fuzzing every loader: generated fleet, demand, prices and config.json files, and raw bytes.

Whatever the input, a loader returns a result or raises InputError (exit 2) whose problems are
one line each; never another exception, a hang or a MemoryError (issue 13). The generators
(strategies.py) use the real field names with hostile values, so they reach the converters and
validators, not just the syntax check. Thousands of inputs per run; the examples are derived
from a fixed seed so CI is reproducible (RIGSHIFT_FUZZ_RANDOM=1 explores new ones).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigshift.catalog.model_files import read_gguf, read_hf_config
from rigshift.econ.prices.bundle import load_inputs, parse_prices_text
from rigshift.econ.prices.coins import read_coins
from rigshift.econ.prices.power_series import read_power_series
from rigshift.errors import InputError
from rigshift.fleet.importer import import_sources, read_source
from rigshift.fleet.names import CatalogResolver
from rigshift.fleet.sources.csv_file import parse_csv
from rigshift.fleet.sources.hiveos import parse_hiveos
from rigshift.fleet.sources.minerstat import parse_minerstat
from rigshift.fleet.sources.yaml_file import parse_yaml
from rigshift.fleet.store import load_fleet
from rigshift.plan.demand import load_demand, parse_demand

from .strategies import (
    CONFIG_DOC,
    DEMAND_DOC,
    FLEET_YAML_DOC,
    HIVEOS_DOC,
    JUNK,
    MINERSTAT_DOC,
    PRICES_DOC,
    as_json,
    as_yaml,
    csv_text,
)

RANDOM = os.environ.get("RIGSHIFT_FUZZ_RANDOM") == "1"


def fuzz(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# One real resolver for the module: the real catalog is part of what is fuzzed, and its cache
# and did-you-mean budget behave as in one long import.
RESOLVER = CatalogResolver()


def refused_cleanly(call: Callable[[], Any]) -> Any:
    """Run `call`; an InputError is fine when each of its problems is one non-empty line."""
    try:
        return call()
    except InputError as error:
        assert error.exit_code == 2
        assert error.problems
        for problem in error.problems:
            line = problem.render()
            assert line and "\n" not in line
        return None


def check_parsed(parsed: Any) -> None:
    for problem in parsed.problems:
        assert "\n" not in problem.render()
    refused_cleanly(lambda: import_sources([parsed]))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@fuzz(1000)
@given(FLEET_YAML_DOC)
def test_fleet_yaml(doc: Any) -> None:
    check_parsed(parse_yaml(as_yaml(doc), "fuzz.yaml", RESOLVER))


@fuzz(1000)
@given(csv_text())
def test_fleet_csv(text: str) -> None:
    check_parsed(parse_csv(text, "fuzz.csv", RESOLVER))


@fuzz(1000)
@given(HIVEOS_DOC)
def test_hiveos(doc: Any) -> None:
    check_parsed(parse_hiveos(doc, "fuzz.json", RESOLVER))


@fuzz(1000)
@given(MINERSTAT_DOC)
def test_minerstat(doc: Any) -> None:
    check_parsed(parse_minerstat(doc, "fuzz.json", RESOLVER))


@fuzz(500)
@given(st.sampled_from(["hiveos", "minerstat", "auto"]), st.one_of(HIVEOS_DOC, MINERSTAT_DOC))
def test_json_inventory_files(workdir: Path, fmt: str, doc: Any) -> None:
    path = workdir / "inventory.json"
    path.write_text(as_json(doc))
    parsed = refused_cleanly(lambda: read_source(path, fmt, RESOLVER))  # type: ignore[arg-type]
    if parsed is not None:
        check_parsed(parsed)


@fuzz(500)
@given(st.sampled_from(["fleet.json", "fleet.yaml"]), st.one_of(FLEET_YAML_DOC, JUNK))
def test_fleet_file(workdir: Path, name: str, doc: Any) -> None:
    path = workdir / name
    path.write_text(as_json(doc) if name.endswith(".json") else as_yaml(doc))
    refused_cleanly(lambda: load_fleet(path))


@fuzz(1000)
@given(DEMAND_DOC)
def test_demand(doc: Any) -> None:
    refused_cleanly(lambda: parse_demand(as_yaml(doc), "fuzz.yaml"))


def _fake_gpu_resolve(name: str) -> str:
    if name.lower().replace(" ", "") in ("rtx3060", "rx580"):
        return name.lower()
    raise InputError(f"unknown GPU {name!r}", field="gpu")


@fuzz(1000)
@given(st.sampled_from(["prices.yaml", "prices.json"]), PRICES_DOC)
def test_prices(workdir: Path, name: str, doc: Any) -> None:
    text = as_json(doc) if name.endswith(".json") else as_yaml(doc)
    if refused_cleanly(lambda: parse_prices_text(text, name)) is not None:
        # the whole merge over the shipped defaults, for the files that parse (the slow part)
        path = workdir / name
        path.write_text(text)
        refused_cleanly(lambda: load_inputs(path, resolve=_fake_gpu_resolve))


@fuzz(1000)
@given(CONFIG_DOC)
def test_config_json(workdir: Path, doc: Any) -> None:
    path = workdir / "config.json"
    path.write_text(as_json(doc))
    refused_cleanly(lambda: read_hf_config(path))


# Raw bytes through every file loader, named as each expects (a GGUF magic is prepended to half
# of the GGUF inputs so the header parser, not just the magic check, sees them).
BYTE_LOADERS: dict[str, Callable[[Path], Any]] = {
    "inv.csv": lambda p: read_source(p, "auto", RESOLVER),
    "inv.yaml": lambda p: read_source(p, "auto", RESOLVER),
    "inv.json": lambda p: read_source(p, "auto", RESOLVER),
    "fleet.json": load_fleet,
    "fleet.yml": load_fleet,
    "demand.yaml": load_demand,
    "prices.yaml": lambda p: load_inputs(p, resolve=_fake_gpu_resolve),
    "prices.json": lambda p: load_inputs(p, resolve=_fake_gpu_resolve),
    "config.json": read_hf_config,
    "model.gguf": read_gguf,
    "series.csv": read_power_series,
    "coins.json": read_coins,
}


@fuzz(2000)
@given(st.sampled_from(sorted(BYTE_LOADERS)), st.binary(max_size=300), st.booleans())
def test_raw_bytes(workdir: Path, name: str, data: bytes, magic: bool) -> None:
    path = workdir / name
    path.write_bytes((b"GGUF" if magic and name.endswith(".gguf") else b"") + data)
    result = refused_cleanly(lambda: BYTE_LOADERS[name](path))
    if name.startswith("inv.") and result is not None:
        check_parsed(result)
