"""Every loader of a user's file reads it through the bounded readers (issue 19: the energy config,
energy demand and events, tariffs, the econ demand file and `bench import` read whole files with
`read_text` and parsed YAML without the alias and depth limits)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rigshift.econ.prices import load_inputs
from rigshift.econ.prices.demand import read_demand as read_econ_demand
from rigshift.energy.demand import read_demand, read_events
from rigshift.energy.prices import read_price_series
from rigshift.energy.wiring import read_config
from rigshift.errors import InputError
from rigshift.measure.importer import ImportDefaults, import_files
from rigshift.readers import LIMITS

LOADERS: dict[str, Callable[[Path], Any]] = {
    "energy.yaml": read_config,
    "energy-demand.yaml": read_demand,
    "events.yaml": read_events,
    "tariff.yaml": lambda p: read_price_series(p, "tariff", span=(0, 3600)),
    "econ-demand.yaml": lambda p: read_econ_demand(p, load_inputs(None).ai.token_prices, 500),
    "llama-bench.md": lambda p: import_files([p], ImportDefaults(), 0.0),
}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with path.open("wb") as handle:  # sparse: no disk, and no time to write
        handle.truncate(LIMITS.file_bytes + 1)
    with pytest.raises(InputError, match=r"larger than 64 MiB"):
        LOADERS[name](path)


@pytest.mark.parametrize("name", [n for n in sorted(LOADERS) if n.endswith(".yaml")])
def test_a_yaml_alias_bomb_is_refused_with_its_line(tmp_path: Path, name: str) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"line \d+: .*values"):
        LOADERS[name](path)


def test_validation_problems_name_their_line_and_path(tmp_path: Path) -> None:
    path = tmp_path / "events.yaml"
    path.write_text("events:\n  - site: a\n    start: 2026-07-01T00:00Z\n    end: never\n")
    with pytest.raises(InputError) as error:
        read_events(path)
    assert f"{path}:line 4, $.events[0].end: end:" in str(error.value)
