"""A user's YAML or JSON file validated as a pydantic model, in one step: read within the limits
(`read_text`), parsed safely (`load_yaml_with_node`: JSON is YAML), validated, and every problem
named by its line and path. The energy config, energy demand and events, and tariffs use it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from rigshift.errors import InputError
from rigshift.readers.limits import read_text
from rigshift.readers.validation import problems_from_validation
from rigshift.readers.yaml_lines import line_index, locator
from rigshift.readers.yaml_safe import load_yaml_with_node

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class YamlDocument:
    """A parsed document and where its values are, for validating parts of it."""

    def __init__(self, text: str, source: str, expected: str):
        self.source = source
        self.expected = expected
        self.data, node = load_yaml_with_node(text, source, expected)
        self._locate = locator(line_index(node) if node is not None else None)

    @classmethod
    def read(cls, path: Path, expected: str) -> YamlDocument:
        return cls(read_text(path, expected), str(path), expected)

    def locate(self, prefix: tuple[Any, ...] = ()) -> Callable[[tuple[Any, ...]], str]:
        return lambda loc: self._locate((*prefix, *loc))

    def validate(self, model: type[M], data: Any = None, *, at: tuple[Any, ...] = ()) -> M:
        """`data` (default: the whole document) as `model`; `at` is where `data` sits in it."""
        return self.validate_as(TypeAdapter(model), self.data if data is None else data, at=at)

    def validate_as(self, adapter: TypeAdapter[T], data: Any, *, at: tuple[Any, ...] = ()) -> T:
        try:
            return adapter.validate_python(data)
        except ValidationError as error:
            raise InputError(problems_from_validation(error, self.source, locate=self.locate(at))) from None


def read_model(model: type[M], path: Path, expected: str, *, empty: Any = None) -> M:
    """The file at `path` as `model` (an empty file is `empty`, when given)."""
    document = YamlDocument.read(path, expected)
    data = document.data if document.data is not None or empty is None else empty
    return document.validate(model, data)


__all__ = ["YamlDocument", "read_model"]
