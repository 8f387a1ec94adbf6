"""Use-case: read inventory sources, merge them, and refuse or skip what is invalid.

Nothing is imported while any source has a problem, and every problem of every source is
reported in one pass; with `skip_invalid` the valid entries are kept and the skipped ones are
listed. Writing the result is the caller's (`store.save_fleet`, atomic).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rigshift.errors import InputError, Problem
from rigshift.fleet.merge import merge_sources
from rigshift.fleet.model import Fleet, Gpu, Rig
from rigshift.fleet.names import CatalogResolver, Resolver
from rigshift.fleet.sources.common import Parsed
from rigshift.fleet.sources.csv_file import parse_csv
from rigshift.fleet.sources.hiveos import parse_hiveos
from rigshift.fleet.sources.minerstat import parse_minerstat
from rigshift.fleet.sources.yaml_file import parse_yaml
from rigshift.fleet.store import load_fleet
from rigshift.readers import load_json, load_yaml, read_text

Format = Literal["auto", "csv", "yaml", "hiveos", "minerstat", "fleet"]
FORMATS: tuple[str, ...] = ("auto", "csv", "yaml", "hiveos", "minerstat", "fleet")


@dataclass
class ImportResult:
    fleet: Fleet
    skipped: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # of the skipped entries
    notes: list[str] = field(default_factory=list)  # merge disagreements

    @property
    def unresolved(self) -> list[tuple[Rig, Gpu]]:
        return [(rig, gpu) for rig, gpu in self.fleet.gpus() if not gpu.resolved]


def read_source(path: str | Path, fmt: Format = "auto", resolver: Resolver | None = None) -> Parsed:
    """One inventory file -> Parsed (entries + problems); never raises for bad content."""
    path = Path(path)
    resolver = resolver or CatalogResolver()
    source = str(path)
    if fmt == "fleet":
        return Parsed("file", source, load_fleet(path))
    text = read_text(path, "an inventory file (CSV, YAML, HiveOS or minerstat JSON)")
    if fmt == "auto":
        fmt = detect_format(path, text)
    if fmt == "csv":
        return parse_csv(text, source, resolver, fleet_name=path.stem)
    if fmt == "yaml":
        return parse_yaml(text, source, resolver, fleet_name=path.stem)
    if fmt == "fleet":
        return Parsed("file", source, load_fleet(path))
    try:
        data = load_json(text, source)
    except InputError as error:
        return Parsed("file", source, Fleet(), list(error.problems))
    if fmt == "hiveos":
        return parse_hiveos(data, source, resolver)
    return parse_minerstat(data, source, resolver)


def detect_format(path: Path, text: str) -> Format:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".yaml", ".yml"):
        # A normalised fleet file written as YAML names itself with `name:`; an inventory uses `fleet:`.
        head = _yaml_or_none(text)
        return "fleet" if isinstance(head, dict) and "name" in head and "fleet" not in head else "yaml"
    try:
        data = load_json(text, str(path))
    except InputError as error:
        first = error.problems[0]
        raise InputError(
            f"cannot tell the format: not CSV or YAML by name, and {first.message}",
            source=str(path),
            location=first.location,
            field="--format",
            expected="one of " + ", ".join(FORMATS[1:]),
        ) from None
    if _looks_like_fleet(data):
        return "fleet"
    if _looks_like_hiveos(data):
        return "hiveos"
    if (
        isinstance(data, dict)
        and data
        and all(isinstance(v, dict) and "hardware" in v for v in data.values())
    ):
        return "minerstat"
    raise InputError(
        "cannot tell the format of this JSON",
        source=str(path),
        field="--format",
        expected="--format hiveos or --format minerstat",
    )


def _yaml_or_none(text: str) -> Any:
    try:
        return load_yaml(text, "<detect>")
    except InputError:
        return None  # the inventory parser reports it, with its line


def _looks_like_fleet(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("rigs"), list) and "sites" in data


def _looks_like_hiveos(data: Any) -> bool:
    if isinstance(data, dict) and ({"farm", "workers", "gpus"} & set(data)):
        return True
    workers = data.get("data") if isinstance(data, dict) else data
    return isinstance(workers, list) and any(
        isinstance(w, dict) and ({"gpu_info", "gpu_stats", "units_count"} & set(w)) for w in workers
    )


def import_sources(parsed: Sequence[Parsed], skip_invalid: bool = False) -> ImportResult:
    """Merge parsed sources; refuse with every problem at once unless `skip_invalid`."""
    problems = [p for part in parsed for p in part.problems]
    if problems and not skip_invalid:
        raise InputError(problems)
    merged = merge_sources(parsed)
    if not merged.fleet.rigs:
        raise InputError(
            "nothing to import: no valid rig in " + ", ".join(p.source for p in parsed),
            expected="at least one rig with GPUs",
        )
    return ImportResult(
        merged.fleet,
        skipped=[f"{part.source}: {s}" for part in parsed for s in part.skipped],
        problems=problems,
        notes=merged.notes,
    )


def import_files(
    paths: Sequence[str | Path],
    fmt: Format = "auto",
    skip_invalid: bool = False,
    resolver: Resolver | None = None,
    extra: Sequence[Parsed] = (),
) -> ImportResult:
    """Read every file (collecting every problem), add `extra` sources (HiveOS live, a probe)."""
    resolver = resolver or CatalogResolver()
    parsed: list[Parsed] = []
    unreadable: list[Problem] = []
    for path in paths:
        try:
            parsed.append(read_source(path, fmt, resolver))
        except InputError as error:  # unreadable or unrecognisable: still report the others too
            unreadable.extend(error.problems)
    if unreadable:
        raise InputError([*unreadable, *(p for part in parsed for p in part.problems)])
    return import_sources([*parsed, *extra], skip_invalid=skip_invalid)
