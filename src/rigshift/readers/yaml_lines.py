"""Lines of a YAML document's values, so a problem found after parsing can name its line.

The node tree comes from `load_yaml_with_node` (depth and size already bounded). Demand files
(plan/demand.py) and fleet files use it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from rigshift.readers.validation import json_path

Lines = dict[tuple[Any, ...], int]


def line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> Lines:
    """Each key path of the document -> the 1-based line where it starts."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue  # a list as a key: validation refuses it, at the mapping's line
            lines.update({k: v for k, v in line_index(value, (*path, key.value)).items() if k != path})
            lines[(*path, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(line_index(item, (*path, i)))
    return lines


def nearest_line(lines: Lines, loc: tuple[Any, ...]) -> int | None:
    """The line of `loc`, or of the nearest enclosing value that has one."""
    for cut in range(len(loc), -1, -1):
        key = tuple(str(p) if not isinstance(p, int) else p for p in loc[:cut])
        if key in lines:
            return lines[key]
    return None


def locator(lines: Lines | None) -> Callable[[tuple[Any, ...]], str]:
    """`loc -> "line N, $.path"` (the JSON path alone without lines: a JSON file)."""

    def locate(loc: tuple[Any, ...]) -> str:
        line = nearest_line(lines, loc) if lines else None
        return f"line {line}, {json_path(loc)}" if line else json_path(loc)

    return locate
