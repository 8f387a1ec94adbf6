"""A pydantic ValidationError as rigshift's located problems: one for each thing wrong."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from pydantic import BaseModel

from rigshift.errors import Problem
from rigshift.suggest import did_you_mean

Loc = tuple[int | str, ...]


class ValidationErrors(Protocol):
    """pydantic's ValidationError, or what FastAPI raises for a request (RequestValidationError)."""

    def errors(self) -> Sequence[Any]: ...


def fields_in(model: type[BaseModel]) -> Callable[[Loc], list[str]]:
    """For `known_fields`: the fields of the (nested) model an unknown key sits in. Parts of the
    location that name no field (FastAPI's "body", list indices) leave the model as it is."""

    def known(loc: Loc) -> list[str]:
        current = model
        for part in loc[:-1]:
            field = current.model_fields.get(str(part))
            annotation = field.annotation if field else None
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                current = annotation
        return list(current.model_fields)

    return known


def json_path(loc: Sequence[Any]) -> str:
    """('rigs', 3, 'gpus', 0, 'model') -> '$.rigs[3].gpus[0].model'."""
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def problems_from_validation(
    error: ValidationErrors,
    source: str | None,
    *,
    locate: Callable[[Loc], str | None] | None = None,
    known_fields: Callable[[Loc], Iterable[str]] | Iterable[str] | None = None,
    expected: str | None = None,
    prefix: Loc = (),
    first_only: bool = False,
    dotted_field: bool = False,
    expected_from_pydantic: bool = False,
) -> list[Problem]:
    """One Problem per pydantic error: where (`locate(loc)`, by default a JSON path), which field,
    the message without pydantic's "Value error, " prefix, and a did-you-mean for unknown keys.

    `known_fields` is the field names to suggest from (or a function of the error's location, for
    nested models); `prefix` puts a model validated on its own at its place in a bigger document;
    `dotted_field` names the field by its whole path ("pcie.gen") instead of its last part;
    `expected_from_pydantic` says what pydantic expected (a literal's choices) where `expected`
    is not given.
    """
    problems = []
    for item in error.errors():
        loc: Loc = (
            *prefix,
            *(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))),
        )
        field = str(loc[-1]) if loc and not isinstance(loc[-1], int) else None
        if dotted_field:
            field = ".".join(str(p) for p in loc) or None
        suggestions: tuple[str, ...] = ()
        unknown = item["type"] == "extra_forbidden"
        if unknown and field and known_fields is not None:
            names = known_fields(loc) if callable(known_fields) else known_fields
            suggestions = did_you_mean(field, list(names))
        message = "unknown key" if unknown else str(item["msg"]).removeprefix("Value error, ")
        wanted = expected
        if wanted is None and expected_from_pydantic and (item.get("ctx") or {}).get("expected"):
            wanted = str(item["ctx"]["expected"]).replace("'", "")
        problems.append(
            Problem(
                message,
                source=source,
                location=(locate or json_path)(loc),
                field=field,
                expected=wanted,
                suggestions=suggestions,
            )
        )
        if first_only:
            break
    return problems
