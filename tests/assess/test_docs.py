"""docs/assessment.md documents every criteria field, every output field and every CLI option."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel

from rigshift.assess import ReadinessCriteria, types
from rigshift.cli.assess import assess_command

DOC = (Path(__file__).resolve().parents[2] / "docs" / "assessment.md").read_text(encoding="utf-8")

_MODELS = [
    obj
    for obj in vars(types).values()
    if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == types.__name__
    and not obj.__name__.startswith("_")
]  # fmt: skip


@pytest.mark.parametrize("model", [ReadinessCriteria, *_MODELS], ids=lambda m: m.__name__)
def test_every_field_is_documented(model: type[BaseModel]):
    missing = [
        name for name in model.model_fields if f"`{name}`" not in DOC and not re.search(rf"\b{name}\b", DOC)
    ]
    assert not missing, f"{model.__name__}: {missing} not in docs/assessment.md"


def test_every_reason_and_use_is_documented():
    assert all(f"`{r.value}`" in DOC for r in types.Reason)
    assert all(f"`{u.value}`" in DOC for u in types.Use)


def test_every_cli_option_is_documented():
    # The command's own parameters (options shared through cli/options.py count too: reading the
    # module's source for `typer.Option("--…")` missed them once --demo moved there).
    command = typer.main.get_command(_one_command_app())
    options = {name for p in command.params for name in p.opts if name.startswith("--")}
    assert options >= {"--demo", "--json", "--html", "--details", "--criteria"}
    assert not [o for o in sorted(options) if o not in DOC and o != "--help"]


def _one_command_app() -> typer.Typer:
    app = typer.Typer(add_completion=False)
    app.command()(assess_command)
    return app
