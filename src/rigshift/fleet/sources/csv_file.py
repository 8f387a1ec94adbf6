"""CSV inventory: one row per GPU, or per group of identical GPUs with a `count` column.

Rig columns (cpu_model, ram_gib, ...) repeat on every row of a rig; a rig whose rows disagree is
a problem, not a silent pick. Every problem carries the file's line number. Format: docs/fleet.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from rigshift.errors import Problem
from rigshift.fleet.model import Gpu
from rigshift.fleet.names import Resolver
from rigshift.fleet.sources.common import (
    GPU_FIELDS,
    RIG_FIELDS,
    EntryProblems,
    GpuBudget,
    Parsed,
    assemble_fleet,
    at,
    convert_fields,
    gpus_from_entry,
    rig_from_values,
)
from rigshift.readers.limits import LIMITS

# The rig's name column is called `rig` in a CSV (a `name` column would be ambiguous).
_RIG_COLUMNS = {("rig" if k == "name" else k): v for k, v in RIG_FIELDS.items()}
_COLUMNS = {**_RIG_COLUMNS, **GPU_FIELDS}


def _rows(text: str, source: str, parsed: Parsed) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of each row; a malformed CSV becomes one problem. A file of more than
    LIMITS.csv_rows rows is refused before any row is converted (counting is ~1 s per million)."""
    if text.count("\n") > LIMITS.csv_rows:  # rows <= lines: count exactly only when it may matter
        try:
            rows = sum(1 for _ in csv.reader(io.StringIO(text)))
        except csv.Error:
            rows = 0  # reported with its line below
        if rows > LIMITS.csv_rows + 1:  # + the header
            parsed.problems.append(
                Problem(
                    f"{rows - 1:,} rows after the header",
                    source=source,
                    expected=f"at most {LIMITS.csv_rows:,} rows per file (split the inventory)",
                )
            )
            return
    reader = csv.reader(io.StringIO(text))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # a NUL byte, a field over the csv module's size limit
            parsed.problems.append(
                Problem(f"not valid CSV: {error}", source=source, location=f"line {reader.line_num}")
            )
            return
        yield reader.line_num, row


def parse_csv(text: str, source: str, resolver: Resolver, fleet_name: str = "fleet") -> Parsed:
    parsed = Parsed("file", source, assemble_fleet(fleet_name, []))
    header: list[str] | None = None
    rig_values: dict[str, dict[str, Any]] = {}
    rig_lines: dict[str, int] = {}
    rig_gpus: dict[str, list[Gpu]] = {}
    budget = GpuBudget(source)
    for line, row in _rows(text, source, parsed):
        if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if budget.exhausted(parsed, f"line {line}"):
            break
        if header is None:
            if len(row) > LIMITS.csv_columns:
                parsed.problems.append(
                    Problem(
                        f"{len(row):,} columns",
                        source=source,
                        location=f"line {line}",
                        expected=f"a header of at most {LIMITS.csv_columns} columns (docs/fleet.md)",
                    )
                )
                return parsed
            header = [cell.strip().lower() for cell in row]
            head = EntryProblems(source, at(f"line {line}"))
            for column in header:
                if column not in _COLUMNS:
                    convert_fields({column: None}, _COLUMNS, head)  # records unknown + did-you-mean
            for required in ("rig", "model"):
                if required not in header:
                    head.add("missing column", field=required, expected="a header naming it")
            parsed.problems.extend(head.problems)
            if any(p.message == "missing column" for p in head.problems):
                return parsed
            continue
        problems = EntryProblems(source, at(f"line {line}"))
        if len(row) > len(header):
            problems.add(f"{len(row)} cells for {len(header)} columns", expected="one cell per column")
        cells = {col: cell for col, cell in zip(header, row, strict=False) if col in _COLUMNS}
        rig_part = convert_fields(
            {k: v for k, v in cells.items() if k in _RIG_COLUMNS}, _RIG_COLUMNS, problems
        )
        gpu_part = convert_fields({k: v for k, v in cells.items() if k in GPU_FIELDS}, GPU_FIELDS, problems)
        name = rig_part.pop("rig", None)
        if name is None:
            if not any(p.field == "rig" for p in problems.problems):
                problems.add("missing", field="rig", expected="a rig name")
        else:
            _check_rig_consistent(name, rig_part, rig_values.setdefault(name, {}), problems)
            rig_lines.setdefault(name, line)
        gpus = gpus_from_entry(gpu_part, resolver, problems)
        if problems:
            parsed.skip(f"line {line}" + (f" (rig {name})" if name else ""), problems)
            continue
        assert name is not None
        rig_gpus.setdefault(name, []).extend(gpus)
        budget.spend(len(gpus))
    if header is None:
        if not parsed.problems:
            parsed.problems.append(Problem("empty file", source=source, expected="a header row and GPU rows"))
        return parsed
    rigs = []
    for name, values in rig_values.items():
        problems = EntryProblems(source, at(f"line {rig_lines[name]}"))
        rig = rig_from_values({"name": name, **values}, rig_gpus.get(name, []), problems)
        if rig is None:
            parsed.skip(f"rig {name} (line {rig_lines[name]})", problems)
        elif rig.gpus:
            rigs.append(rig)
    parsed.fleet = assemble_fleet(fleet_name, rigs)
    return parsed


def _check_rig_consistent(
    name: str, row_values: dict[str, Any], seen: dict[str, Any], problems: EntryProblems
) -> None:
    for key, value in row_values.items():
        if key in seen and seen[key] != value:
            problems.add(
                f"rig {name!r} has {key} {seen[key]!r} on an earlier row, {value!r} here",
                field=key,
                expected="the same value on every row of a rig",
            )
        else:
            seen.setdefault(key, value)
