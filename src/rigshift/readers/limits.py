"""How much of a user's file rigshift reads before refusing it, and reading text within that.

The limits are far above any real farm (docs/fleet.md says why each is where it is) and far below
what would take minutes or gigabytes to parse. They are one frozen object so a test or a future
setting can pass others.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rigshift.errors import InputError, Problem

MIB = 2**20


@dataclass(frozen=True)
class Limits:
    file_bytes: int = 64 * MIB  # an inventory, demand, prices or config.json file
    fleet_file_bytes: int = 512 * MIB  # a normalised fleet file: 100,000 GPUs is about 82 MB
    nesting: int = 64  # YAML/JSON levels; real files use fewer than 8
    # YAML values (nodes), before and after expanding aliases: an alias bomb is billions. PyYAML
    # composes ~50k values/s, so this bounds a YAML file to seconds; about 100,000 GPU entries
    # (a bigger inventory goes in CSV, ~15k rows/s).
    yaml_values: int = 500_000
    csv_rows: int = 100_000  # rows of one CSV inventory (one GPU, or a group, per row)
    csv_columns: int = 256  # the format has about 40 columns
    gpus_per_entry: int = 64  # `count` of one GPU entry: more GPUs than any host can hold
    gpus_per_rig: int = 64
    gpus_per_file: int = 1_000_000
    problems: int = 1_000  # a parser stops collecting problems after this many


LIMITS = Limits()


def read_text(path: str | os.PathLike[str], what: str, max_bytes: int | None = None) -> str:
    """The file's text (UTF-8, a BOM dropped), or an InputError saying why not.

    Reads at most `max_bytes` + 1 bytes, so a huge file never fills memory; a FIFO or a device
    (/dev/zero) is refused before it is opened.
    """
    path = Path(path)
    limit = LIMITS.file_bytes if max_bytes is None else max_bytes
    source = str(path)
    try:
        if path.exists() and not path.is_dir() and not path.is_file():
            # a FIFO would block until someone writes to it; a device never ends
            raise InputError(Problem("not a regular file", source=source, expected=what))
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise InputError(Problem("no such file", source=source, expected=what)) from None
    except IsADirectoryError:
        raise InputError(Problem("is a directory", source=source, expected=what)) from None
    except OSError as error:
        raise InputError(Problem(f"cannot read: {error.strerror or error}", source=source)) from None
    if len(data) > limit:
        raise InputError(
            Problem(
                f"file is larger than {limit / MIB:g} MiB",
                source=source,
                expected=f"{what} of at most {limit / MIB:g} MiB",
            )
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(
            Problem(
                f"not UTF-8 text (byte {data[error.start]:#04x})",
                source=source,
                location=f"line {line}",
                expected=f"{what} as UTF-8 text",
            )
        ) from None
