"""Terminal tables that fit: columns dropped by priority, names never cut, pipes never wrapped.

Every command prints through `output_console()` and builds its tables with `fitted_table()`:

- on a terminal the table fits its width: the columns with the highest `drop` number go first
  (the table's caption says which were left out and that `--json` has everything); columns with
  `drop=0` are the names a user needs to act on and are never cut or folded;
- on a pipe (`rigshift models | cat`, `| grep`) nothing is dropped or wrapped: one row per line,
  unless COLUMNS asks for a width (the tests render at COLUMNS=80 and 120).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

UNLIMITED_WIDTH = 10_000  # a pipe: never wrap a row


@dataclass(frozen=True)
class Col:
    header: str
    justify: Literal["left", "right"] = "left"
    drop: int = 0  # 0: a name the user needs, never dropped or cut; higher numbers are dropped first
    wrap: bool = False  # free text (details, reasons) that may wrap onto more lines


def output_width(stream: object = None) -> int:
    """The width tables are fitted to: COLUMNS when set, the terminal's, or unlimited on a pipe."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = stream or sys.stdout
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return Console().width
    return UNLIMITED_WIDTH


def output_console(stderr: bool = False) -> Console:
    """A console that writes whole lines on pipes and fits the terminal otherwise."""
    width = output_width(sys.stderr if stderr else sys.stdout)
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=width == UNLIMITED_WIDTH)


def _cell_width(text: str) -> int:
    """A cell's width: its longest line (a two-line cell is as wide as its wider line)."""
    return max((len(line) for line in text.splitlines()), default=0)


def _build(
    columns: Sequence[Col],
    rows: Sequence[Sequence[str]],
    keep: list[int],
    title: str | None,
    caption: str | None,
) -> Table:
    table = Table(
        title=title,
        caption=caption,
        title_justify="left",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    for i in keep:
        c = columns[i]
        table.add_column(
            c.header,
            justify=c.justify,
            no_wrap=not c.wrap,
            overflow="fold",  # never an ellipsis: a cut name is a wrong name
            min_width=None
            if c.wrap
            else max(len(c.header), *(_cell_width(r[i]) for r in rows))
            if rows
            else None,
        )
    for row in rows:
        table.add_row(*(row[i] for i in keep))
    return table


def fitted_table(
    columns: Sequence[Col],
    rows: Sequence[Sequence[str]],
    width: int,
    title: str | None = None,
    caption: str | None = None,
    everything: str = "--json has every field",
) -> Table:
    """A table of `rows` that fits `width`: drop columns by priority until its natural width fits.

    `everything` ends the caption that names the dropped columns: where the user finds them all."""
    keep = list(range(len(columns)))
    dropped: list[str] = []
    console = Console(width=UNLIMITED_WIDTH)
    while True:
        table = _build(columns, rows, keep, title, None)
        natural = Measurement.get(console, console.options, table).maximum
        # Wrappable columns can shrink to their longest word: count them at a third of their width.
        shrinkable = sum(
            max(_cell_width(r[i]) for r in rows) * 2 // 3 for i in keep if columns[i].wrap and rows
        )
        droppable = [i for i in keep if columns[i].drop > 0]
        if natural - shrinkable <= width or not droppable:
            break
        worst = max(droppable, key=lambda i: (columns[i].drop, i))
        keep.remove(worst)
        dropped.append(columns[worst].header)
    note = f"not shown at {width} columns: {', '.join(dropped)} ({everything})" if dropped else None
    text = " ".join(t for t in (caption, note) if t) or None
    return _build(columns, rows, keep, title, text)


__all__ = ["UNLIMITED_WIDTH", "Col", "fitted_table", "output_console", "output_width"]
