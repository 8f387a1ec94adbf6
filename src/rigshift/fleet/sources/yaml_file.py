"""YAML inventory: rigs with their GPUs, a GPU entry per card or per group with `count`.

Line numbers come from yaml's node marks (`yaml.compose`), so a problem points at the line of
the bad value, not just the rig. Format: docs/fleet.md and examples/fleet/*.yaml.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from pydantic import ValidationError

from rigshift.errors import InputError
from rigshift.fleet.model import Rig, Site
from rigshift.fleet.names import Resolver
from rigshift.fleet.sources.common import (
    GPU_FIELDS,
    RIG_FIELDS,
    EntryProblems,
    GpuBudget,
    Parsed,
    RigsByName,
    assemble_fleet,
    convert_fields,
    gpus_from_entry,
    rig_from_values,
)
from rigshift.readers.validation import problems_from_validation
from rigshift.readers.yaml_safe import load_yaml_with_node

Path = tuple[str | int, ...]
_TOP_KEYS = ("fleet", "sites", "rigs")


def compose_with_lines(text: str, source: str = "<yaml>") -> tuple[Any, dict[Path, int]]:
    """Load YAML safely, within limits (rigshift.readers.yaml_safe: depth, aliases), and remember
    the 1-based line of every value, keyed by its path. Raises InputError for bad YAML."""
    _, node = load_yaml_with_node(text, source, expected="a fleet inventory (docs/fleet.md)")
    lines: dict[Path, int] = {}
    constructor = yaml.SafeLoader("")

    def walk(node: yaml.Node | None, path: Path) -> Any:
        if node is None:
            return None
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = constructor.construct_object(key_node, deep=True)
                out[key] = walk(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [walk(item, (*path, i)) for i, item in enumerate(node.value)]
        return constructor.construct_object(node, deep=True)

    return walk(node, ()), lines


def _locator(lines: dict[Path, int], path: Path) -> Callable[[str | None], str | None]:
    def locate(field: str | None) -> str | None:
        line = lines.get((*path, field)) if field else None
        return f"line {line or lines.get(path, 1)}"

    return locate


def parse_yaml(text: str, source: str, resolver: Resolver, fleet_name: str = "fleet") -> Parsed:
    parsed = Parsed("file", source, assemble_fleet(fleet_name, []))
    try:
        data, lines = compose_with_lines(text, source)
    except InputError as error:
        parsed.problems.extend(error.problems)
        return parsed
    top = EntryProblems(source, _locator(lines, ()))
    if not isinstance(data, dict) or not isinstance(data.get("rigs"), list):
        top.add("no rig list", field="rigs", expected="a mapping with `rigs:` (a list of rigs)")
        parsed.problems.extend(top.problems)
        return parsed
    for key in data:
        if key not in _TOP_KEYS:
            convert_fields({key: None}, dict.fromkeys(_TOP_KEYS, GPU_FIELDS["model"]), top)
    name = str(data.get("fleet") or fleet_name)
    sites = _parse_sites(data.get("sites") or [], source, lines, top)
    parsed.problems.extend(top.problems)

    rigs = RigsByName(parsed, "rig {name!r} already listed as {first}", expected="a unique rig name")
    budget = GpuBudget(source)
    for i, raw in enumerate(data["rigs"]):
        if budget.exhausted(parsed, f"line {lines.get(('rigs', i))}"):
            break
        rig = _parse_rig(raw, ("rigs", i), source, lines, resolver, parsed)
        if rig is None:
            continue
        budget.spend(len(rig.gpus))
        problems = EntryProblems(source, _locator(lines, ("rigs", i)))
        rigs.add(rig, f"rigs[{i}]", problems, skipped=f"rigs[{i}] {rig.name} (line {lines.get(('rigs', i))})")
    parsed.fleet = assemble_fleet(name, rigs.rigs, sites)
    return parsed


def _parse_sites(raw: Any, source: str, lines: dict[Path, int], top: EntryProblems) -> list[Site]:
    if not isinstance(raw, list):
        top.add("not a list", field="sites", expected="a list of sites")
        return []
    sites = []
    for i, entry in enumerate(raw):
        problems = EntryProblems(source, _locator(lines, ("sites", i)))
        try:
            sites.append(Site(**entry) if isinstance(entry, dict) else Site(name=str(entry)))
        except ValidationError as error:
            for problem in problems_from_validation(error, source, dotted_field=True):
                problems.add(problem.message, field=problem.field)
        except TypeError as error:  # a key that is not text: Site(**{1: ...})
            problems.add(f"not a site: {error}", expected="a mapping with name, power_budget_kw, ...")
        top.problems.extend(problems.problems)
    return sites


def _parse_rig(
    raw: Any, path: Path, source: str, lines: dict[Path, int], resolver: Resolver, parsed: Parsed
) -> Rig | None:
    problems = EntryProblems(source, _locator(lines, path))
    where = f"rigs[{path[1]}] (line {lines.get(path)})"
    if not isinstance(raw, dict):
        problems.add("not a mapping", expected="a rig: name, site, gpus, ...")
        parsed.skip(where, problems)
        return None
    values = convert_fields({k: v for k, v in raw.items() if k != "gpus"}, RIG_FIELDS, problems)
    gpu_entries = raw.get("gpus")
    gpus = []
    if not isinstance(gpu_entries, list) or not gpu_entries:
        problems.add("no GPUs", field="gpus", expected="a list of GPU entries")
    else:
        for j, entry in enumerate(gpu_entries):
            gpu_path = (*path, "gpus", j)
            entry_problems = EntryProblems(source, _locator(lines, gpu_path))
            if not isinstance(entry, dict):
                entry_problems.add(
                    "not a mapping", expected="a GPU entry such as {model: RTX 3060, count: 6}"
                )
            else:
                gpu_values = convert_fields(entry, GPU_FIELDS, entry_problems)
                gpus.extend(gpus_from_entry(gpu_values, resolver, entry_problems))
            problems.problems.extend(entry_problems.problems)
    rig = rig_from_values(values, gpus, problems)
    if rig is None:
        parsed.problems.extend(problems.problems)
        name = raw.get("name")
        parsed.skipped.append(f"{where}" + (f" {name}" if name else ""))
    return rig
