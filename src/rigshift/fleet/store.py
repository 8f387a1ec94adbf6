"""The normalised fleet file: `load_fleet(path)` for every later stage, `save_fleet` atomically.

JSON by default, YAML when the name ends in .yaml/.yml; both hold `Fleet.model_dump()`.
Saving writes a temporary file in the same directory, flushes it to disk, then renames it over
the target: a crash or a refused import never leaves a half-written or emptied fleet file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rigshift.errors import InputError, Problem
from rigshift.files import write_atomic
from rigshift.fleet.measurements import measurement_problems
from rigshift.fleet.model import Fleet
from rigshift.readers import (
    LIMITS,
    load_json,
    load_yaml,
    load_yaml_with_node,
    problems_from_validation,
    read_text,
)
from rigshift.readers.yaml_lines import line_index, locator

_YAML_SUFFIXES = (".yaml", ".yml")
# A normalised fleet file is written by rigshift and holds ~30 values per GPU: a 100,000-GPU
# fleet saved as YAML is ~3 million (slow to read, so JSON is the default; but not refused).
_FLEET_FILE_LIMITS = dataclasses.replace(LIMITS, yaml_values=10_000_000)


def load_fleet(path: str | os.PathLike[str]) -> Fleet:
    """Read a normalised fleet file; every problem in it is reported at once, by JSON path."""
    path = Path(path)
    source = str(path)
    expected = "a fleet file written by `rigshift fleet import`"
    text = read_text(path, expected, max_bytes=LIMITS.fleet_file_bytes)
    is_yaml = path.suffix.lower() in _YAML_SUFFIXES
    wrong = _not_a_fleet(path, text)
    if wrong is not None:
        raise InputError(wrong)
    try:
        with _gc_paused():  # a 100,000-GPU file is millions of acyclic objects: no GC rescans
            if is_yaml:
                fleet = Fleet.model_validate(load_yaml(text, source, expected, _FLEET_FILE_LIMITS))
            else:
                # pydantic parses and validates JSON in one pass in Rust, ~5x faster than json + dict
                fleet = Fleet.model_validate_json(text)
    except ValidationError as error:
        if not is_yaml and any(item["type"] == "json_invalid" for item in error.errors()):
            load_json(text, source, expected)  # raises, with the line of the syntax error
        locate = _locator(text, source, is_yaml)
        raise InputError(problems_from_validation(error, source, locate=locate)[: LIMITS.problems]) from None
    if fleet.measurements:
        problems = measurement_problems(fleet, source, _locator(text, source, is_yaml))
        if problems:
            raise InputError(problems[: LIMITS.problems])
    return fleet


def _locator(text: str, source: str, is_yaml: bool) -> Callable[[tuple[Any, ...]], str]:
    """Problems in a YAML fleet file name their line (composed again only when there are any);
    in a JSON one, their JSON path."""
    lines = None
    if is_yaml:
        _, node = load_yaml_with_node(text, source, None, _FLEET_FILE_LIMITS)
        lines = line_index(node) if node is not None else None
    return locator(lines)


def _not_a_fleet(path: Path, text: str) -> Problem | None:
    """A demand or a raw inventory where a fleet file belongs: say what to run instead.

    A fleet file (what `rigshift fleet import` writes) is a mapping of `name`, `sites` and `rigs`;
    anything else that parses is an inventory (HiveOS, minerstat, CSV, an inventory YAML) or a
    demand given in the fleet's place."""
    import_first = f"a fleet file: run `rigshift fleet import {path} -o fleet.json` and pass fleet.json"
    if path.suffix.lower() == ".csv":
        return Problem(
            "this is an inventory (CSV), not a fleet file", source=str(path), expected=import_first
        )
    head = text.lstrip()[:1]
    if not head:
        return Problem("empty file", source=str(path), expected="a file written by `rigshift fleet import`")
    try:  # the bounded readers: an alias bomb or deep nesting is refused here too, at once
        is_yaml = path.suffix.lower() in _YAML_SUFFIXES
        data = (
            load_yaml(text, str(path), "", _FLEET_FILE_LIMITS) if is_yaml else load_json(text, str(path), "")
        )
    except InputError:
        return None  # the parser below reports where
    if isinstance(data, dict) and "deployments" in data:
        return Problem(
            "this is a demand file, not a fleet: the arguments look swapped",
            source=str(path),
            expected="the fleet file first, then the demand (`rigshift plan FLEET DEMAND`)",
        )
    if isinstance(data, dict) and "fleet" not in data and (not data or {"name", "rigs", "sites"} & set(data)):
        return None  # a fleet file (an inventory YAML names its farm with `fleet:`)
    if isinstance(data, (dict, list)):
        return Problem(
            "this looks like an inventory, not a fleet file", source=str(path), expected=import_first
        )
    return None


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def dump_fleet(fleet: Fleet, yaml_format: bool = False) -> str:
    # A fleet nobody benched has no `measurements:` section (files stay as they were before it).
    exclude = None if fleet.measurements else {"measurements"}
    if yaml_format:
        data = fleet.model_dump(mode="json", exclude=exclude)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return fleet.model_dump_json(indent=1, exclude=exclude) + "\n"


def save_fleet(fleet: Fleet, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    text = dump_fleet(fleet, yaml_format=path.suffix.lower() in _YAML_SUFFIXES)
    write_atomic(path, text, make_dirs=True)
    return path


__all__ = ["dump_fleet", "load_fleet", "save_fleet", "write_atomic"]
