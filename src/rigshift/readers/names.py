"""Names people and machines give things (keys, tenants, rigs, sites, models) are printable text.

A name ends up in log lines, tables, the console, Prometheus labels and file names. A newline in
one forges a log line; a NUL cuts it short in C code; U+202E (right-to-left override) and its
kin make "rig-1‮txt.exe" read as something else on screen. So a name may hold no character of
Unicode's control (Cc), format (Cf: bidi overrides, zero-width joiners, BOM), line or paragraph
separator (Zl, Zp), surrogate (Cs) or unassigned (Cn) categories.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Cn"})


def unprintable(text: str) -> str | None:
    """The first character a name may not hold, described ("U+202E RIGHT-TO-LEFT OVERRIDE"), or None."""
    for char in text:
        if unicodedata.category(char) in FORBIDDEN_CATEGORIES:
            return f"U+{ord(char):04X} {unicodedata.name(char, 'control character')}"
    return None


def name_problem(text: str) -> str | None:
    """Why `text` is not a usable name, or None."""
    bad = unprintable(text)
    return f"names may not contain control or formatting characters (found {bad})" if bad else None


def _printable(text: str) -> str:
    problem = name_problem(text)
    if problem:
        raise ValueError(problem)
    return text


# In a pydantic field's Annotated[...]: refuses unprintable characters (schemas.KeyCreate.name...).
printable = AfterValidator(_printable)
PrintableName = Annotated[str, printable]
