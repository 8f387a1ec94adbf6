"""The model catalog: open models with their published architecture numbers, found by name.

Names come from people and from tools, spelled many ways: "Llama-3.1-8B-Instruct",
"meta-llama/Llama-3.1-8B-Instruct", Ollama's "llama3.1:8b". Every spelling is reduced to one
normal form (lower case, no org prefix, no -Instruct/-it suffix, punctuation as dashes) and looked
up in an index built from each entry's key, name, Hugging Face repo and aliases.
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace
from importlib.resources import files
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rigshift.catalog.model_files import read_gguf, read_hf_config
from rigshift.catalog.model_spec import ModelSpec
from rigshift.errors import InputError, Problem, UnknownNameError
from rigshift.readers.validation import problems_from_validation
from rigshift.suggest import did_you_mean

CATALOG_FILE = "models.yaml"
# Suffixes that name a fine-tune or packaging of the same architecture, not a different model.
_VARIANT_SUFFIXES = ("-instruct", "-it", "-chat", "-hf", "-gguf")


class _ModelEntry(BaseModel):
    """Schema of one models.yaml entry; mirrors ModelSpec and rejects unknown or missing keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    name: str = Field(min_length=1)
    architecture: str = Field(min_length=1)
    kind: Literal["chat", "embedding"]
    params_b: float = Field(gt=0)
    n_layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    n_heads: int = Field(gt=0)
    n_kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    ffn_size: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    context_length: int = Field(gt=0)
    n_experts: int = Field(ge=0)
    n_active_experts: int = Field(ge=0)
    shared_ffn_size: int = Field(ge=0)
    tied_embeddings: bool
    sliding_window: int | None = Field(default=None, gt=0)
    sliding_window_layers: int = Field(ge=0)
    hf_repo: str | None
    source: str = Field(pattern=r"^https://")
    aliases: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> _ModelEntry:
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads {self.n_heads} is not a multiple of n_kv_heads {self.n_kv_heads}")
        if (self.n_experts > 1) != (self.n_active_experts > 0) or self.n_active_experts > self.n_experts:
            raise ValueError("n_active_experts must be 1..n_experts for MoE models and 0 for dense ones")
        if (self.sliding_window is None) != (self.sliding_window_layers == 0):
            raise ValueError("sliding_window and sliding_window_layers must be set together")
        if self.sliding_window_layers > self.n_layers:
            raise ValueError("sliding_window_layers exceeds n_layers")
        return self

    def to_spec(self) -> ModelSpec:
        return ModelSpec(**self.model_dump())


def normalise_model_name(name: str) -> str:
    """One spelling per model: 'meta-llama/Llama-3.1-8B-Instruct' and 'llama3.1:8b' style names
    both reduce to dash-separated lower case without org prefix or instruct suffix."""
    text = name.strip().lower().rsplit("/", 1)[-1]
    text = text.removesuffix(".gguf")
    text = re.sub(r"[^a-z0-9.]+", "-", text).strip("-")
    stripped = True
    while stripped:
        stripped = False
        for suffix in _VARIANT_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text, stripped = text.removesuffix(suffix), True
    return text


class ModelCatalog:
    """The models rigshift knows by name; immutable once built."""

    def __init__(self, specs: tuple[ModelSpec, ...]):
        self._specs = specs
        self._index: dict[str, ModelSpec] = {}
        # Dash-free spellings catch "qwen 2.5 7b" or "Llama3.1-8B"; ambiguous ones map to None.
        self._loose_index: dict[str, ModelSpec | None] = {}
        for spec in specs:
            for spelling in (spec.key, spec.name, spec.hf_repo, *spec.aliases):
                if not spelling:
                    continue
                normal = normalise_model_name(spelling)
                holder = self._index.setdefault(normal, spec)
                if holder.key != spec.key:
                    # Two models answering to one name would make lookups depend on file order.
                    raise InputError(
                        Problem(
                            f"name {spelling!r} matches both {holder.key!r} and {spec.key!r}",
                            source=CATALOG_FILE,
                            field="aliases",
                        )
                    )
                loose = normal.replace("-", "")
                if self._loose_index.setdefault(loose, spec) not in (spec, None):
                    self._loose_index[loose] = None

    def all(self) -> tuple[ModelSpec, ...]:
        return self._specs

    def get(self, key: str) -> ModelSpec:
        """The model with this key, name, repo id or alias, in any case; UnknownNameError otherwise."""
        normal = normalise_model_name(key)
        spec = self._index.get(normal) or self._loose_index.get(normal.replace("-", ""))
        if spec is not None:
            return spec
        candidates = [s.key for s in self._specs] + [a for s in self._specs for a in s.aliases]
        suggestions = did_you_mean(normal or key, candidates)
        raise UnknownNameError(
            Problem(
                f"unknown model {key!r}",
                field="model",
                suggestions=suggestions,
                expected="a catalog model name, a .gguf file or a config.json",
            )
        )


@functools.cache
def model_catalog() -> ModelCatalog:
    """The packaged catalog, parsed and validated once per process."""
    text = files("rigshift.catalog").joinpath(CATALOG_FILE).read_text(encoding="utf-8")
    return ModelCatalog(_parse_catalog(text, CATALOG_FILE))


def _parse_catalog(text: str, source: str) -> tuple[ModelSpec, ...]:
    try:
        # The shipped catalog, not a user's file: libyaml's safe loader where installed (it is
        # most of `rigshift estimate`'s start-up in pure Python).
        raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise InputError(Problem(f"not valid YAML: {exc}", source=source)) from exc
    if not isinstance(raw, list):
        raise InputError(Problem("catalog must be a list of models", source=source, expected="a YAML list"))
    specs: list[ModelSpec] = []
    problems: list[Problem] = []
    for position, item in enumerate(raw):
        try:
            specs.append(_ModelEntry.model_validate(item).to_spec())
        except ValidationError as exc:
            label = item.get("key", position) if isinstance(item, dict) else position
            where = f"[{label}]"
            problems += [
                replace(problem, location=where)
                for problem in problems_from_validation(exc, source, dotted_field=True)
            ]
    if problems:
        raise InputError(problems)
    duplicates = sorted({s.key for s in specs if [t.key for t in specs].count(s.key) > 1})
    if duplicates:
        raise InputError(Problem(f"duplicate keys: {', '.join(duplicates)}", source=source, field="key"))
    return tuple(specs)


def load_model(name_or_path: str) -> ModelSpec:
    """A catalog model by name, or the model described by a .gguf file or a config.json (or the
    folder holding one). Paths win over names only when they exist or clearly name a file."""
    path = Path(name_or_path).expanduser()
    suffix = path.suffix.lower()
    if suffix == ".gguf":
        return read_gguf(path).model
    if suffix == ".json" or (path.is_dir() and (path / "config.json").is_file()):
        return read_hf_config(path)
    if path.is_file():
        raise InputError(
            Problem("unrecognised model file", source=str(path), expected="a .gguf file or a config.json")
        )
    return model_catalog().get(name_or_path)
