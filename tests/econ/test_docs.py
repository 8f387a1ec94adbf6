"""docs/economics.md documents every prices-file key and every `rigshift econ` option."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from pydantic import BaseModel

from rigshift.cli.app import app
from rigshift.econ.prices.bundle import PricesFile

DOC = (Path(__file__).resolve().parents[2] / "docs" / "economics.md").read_text(encoding="utf-8")


def _keys(model: type[BaseModel]) -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        keys.add(name)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            keys |= _keys(field.annotation)
    return keys


def test_every_prices_file_key_is_documented():
    missing = sorted(k for k in _keys(PricesFile) if not re.search(rf"\b{re.escape(k)}\b", DOC))
    assert not missing, f"undocumented prices-file keys: {missing}"


def test_every_cli_option_is_documented():
    command = typer.main.get_command(app).commands["econ"]  # type: ignore[attr-defined]
    options = {opt for param in command.params for opt in param.opts if opt.startswith("--")}
    assert "--prices" in options and "--html" in options
    missing = sorted(o for o in options if o not in DOC)
    assert not missing, f"undocumented options: {missing}"
