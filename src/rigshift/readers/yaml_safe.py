"""YAML through a safe loader with limits: nesting depth, and the size after expanding aliases.

PyYAML's safe loader already refuses arbitrary objects, but not an alias bomb (nine anchors of
nine aliases each expand to 387 million values when anything walks the document) nor a
recursive alias or 100,000 nested brackets (a RecursionError). Here the document is composed
node by node with a depth limit, every alias is counted, and before anything walks the result
its size with aliases expanded is computed once per distinct node (memoised, so the count itself
is linear); a document over the limit is refused in milliseconds.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from rigshift.errors import InputError, Problem
from rigshift.readers.limits import LIMITS, Limits

try:  # libyaml's parser where it is installed (several times faster); composed in Python for the limits
    from yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str):
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)


class _TooBig(Exception):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


class _LimitedComposer(Composer):
    limits: Limits = LIMITS

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        depth = getattr(self, "_depth", 0)
        if depth >= self.limits.nesting:
            event = self.peek_event()  # type: ignore[attr-defined]
            raise _TooBig(f"nested more than {self.limits.nesting} levels", event.start_mark.line + 1)
        self._nodes = getattr(self, "_nodes", 0) + 1
        if self._nodes > self.limits.yaml_values:  # bounds memory before any alias is expanded
            event = self.peek_event()  # type: ignore[attr-defined]
            raise _TooBig(f"more than {self.limits.yaml_values:,} values", event.start_mark.line + 1)
        self._depth = depth + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth


class _Loader(_LimitedComposer, _Parser, SafeConstructor, Resolver):
    def __init__(self, stream: str, limits: Limits):
        _Parser.__init__(self, stream)
        _LimitedComposer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.limits = limits


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Values in the document with every alias expanded; raises _TooBig over `limit` or on a cycle."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    # Iterative post-order walk: (node, children visited?)
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            children = _children(node)
            total = 1 + sum(sizes[id(c)] for c in children)
            if total > limit:
                raise _TooBig(
                    f"more than {limit:,} values once aliases are expanded",
                    node.start_mark.line + 1,
                )
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise _TooBig("an alias refers to a node that contains it", node.start_mark.line + 1)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def load_yaml_with_node(
    text: str, source: str, expected: str | None = None, limits: Limits = LIMITS
) -> tuple[Any, yaml.Node | None]:
    """The document's data and its node tree (for line numbers), or one located InputError."""
    loader = _Loader(text, limits)
    try:
        node = loader.get_single_node()
        if node is not None:
            _expanded_size(node, limits.yaml_values)
        data = loader.construct_document(node) if node is not None else None
    except _TooBig as error:
        raise InputError(
            Problem(str(error), source=source, location=f"line {error.line}" if error.line else None,
                    expected=expected)
        ) from None  # fmt: skip
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InputError(
            Problem(
                f"not valid YAML: {problem}",
                source=source,
                location=f"line {mark.line + 1}" if mark is not None else None,
                expected=expected,
            )
        ) from None
    except (ValueError, OverflowError, TypeError) as error:
        # the safe constructor's own failures: a timestamp like 2026-13-45, an unhashable key
        raise InputError(Problem(f"not valid YAML: {error}", source=source, expected=expected)) from None
    finally:
        loader.dispose()
    return data, node


def load_yaml(text: str, source: str, expected: str | None = None, limits: Limits = LIMITS) -> Any:
    return load_yaml_with_node(text, source, expected, limits)[0]
