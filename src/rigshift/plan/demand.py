"""Demand: what the operator wants served, read from a YAML (or JSON) file.

```yaml
deployments:
  - name: chat-8b
    model: llama-3.1-8b          # catalog name, or a path to a model file
    quant: Q4_K_M
    context: 8192
    parallel: 4
    replicas: {min: 2, max: 40}  # or `replicas: 4` (exactly), or throughput: {tokens_per_s: 3000}
    value: {usd_per_mtok: 0.20}  # or: value: {priority: 5}
    constraints: {sites: [north], gpu_models: [geforce-rtx-3060-12gb], same_rig: true}
options:                         # optional PlanOptions overrides
  vram_reserve_gib: 0.5
```

Errors name the file, the line and the field, never a pydantic traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rigshift.errors import InputError, Problem
from rigshift.plan.types import PlanOptions
from rigshift.readers import load_yaml_with_node, problems_from_validation, read_text
from rigshift.readers.yaml_lines import line_index, locator, nearest_line
from rigshift.units import parse_tokens, usd_per_hour


class _Model(BaseModel):
    # allow_inf_nan=False: `usd_per_mtok: .inf` once planned to "objective inf" and exited 0
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


_M = TypeVar("_M", bound=_Model)


def _exactly_one(model: _M, first: str, second: str, said: tuple[str, str] | None = None) -> _M:
    """`model`, when exactly one of its fields `first` and `second` is set (`said`: how the
    problem names them, when not by their names)."""
    if (getattr(model, first) is None) == (getattr(model, second) is None):
        one, other = said or (first, second)
        raise ValueError(f"give exactly one of {one} or {other}")
    return model


# Upper bounds far above any farm, far below what would stall the planner or overflow a sum.
MAX_REPLICAS = 100_000
MAX_CONTEXT = 10_485_760  # tokens (10 Mi)
MAX_PARALLEL = 1_024


class ReplicaRange(_Model):
    min: int = Field(default=0, ge=0, le=MAX_REPLICAS)
    max: int = Field(ge=1, le=MAX_REPLICAS)

    @model_validator(mode="after")
    def _ordered(self) -> ReplicaRange:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        return self


class Throughput(_Model):
    """A target in output tokens/s, or in requests/s with a token profile."""

    tokens_per_s: float | None = Field(default=None, gt=0, le=1e9)
    requests_per_s: float | None = Field(default=None, gt=0, le=1e7)
    prompt_tokens: int = Field(default=512, ge=1, le=MAX_CONTEXT)
    output_tokens: int = Field(default=256, ge=1, le=MAX_CONTEXT)
    max_replicas: int | None = Field(default=None, ge=1, le=MAX_REPLICAS)

    @model_validator(mode="after")
    def _one_target(self) -> Throughput:
        return _exactly_one(self, "tokens_per_s", "requests_per_s")

    @property
    def target_tokens_per_s(self) -> float:
        if self.tokens_per_s is not None:
            return self.tokens_per_s
        assert self.requests_per_s is not None
        return self.requests_per_s * self.output_tokens


class Value(_Model):
    """Money per million output tokens, or a priority (each replica, or the whole target, worth
    `priority` objective units per hour)."""

    usd_per_mtok: float | None = Field(default=None, ge=0, le=1e6)
    priority: float | None = Field(default=None, ge=0, le=1e9)

    def usd_per_h(self, tokens_per_s: float) -> float:
        """Money `tokens_per_s` earn in an hour (0 for a deployment valued by priority)."""
        return usd_per_hour(tokens_per_s, self.usd_per_mtok or 0.0)

    def per_token_s(self, target_tokens_per_s: float) -> float:
        """Objective units one tok/s of a throughput target is worth per hour: the priority spread
        over the target, or what the tokens earn."""
        if self.priority is not None:
            return self.priority / target_tokens_per_s
        return self.usd_per_h(1.0)

    def per_replica(self, tokens_per_s: float, utilisation: float = 1.0) -> float:
        """Objective units a replica-count replica is worth per hour: its priority, or the tokens it
        sells at the stated `utilisation` (no volume is given, so never its full capacity)."""
        return self.priority if self.priority is not None else self.usd_per_h(tokens_per_s) * utilisation

    @model_validator(mode="after")
    def _one(self) -> Value:
        return _exactly_one(self, "usd_per_mtok", "priority")


class Constraints(_Model):
    sites: list[str] | None = None
    labels: dict[str, str] = Field(default_factory=dict)  # every label must match (rig or GPU)
    gpu_models: list[str] | None = None  # catalog keys allowed
    same_rig: bool = True  # False: llama.cpp RPC across rigs is allowed (slow)


class Deployment(_Model):
    name: str = Field(min_length=1)
    model: str = Field(min_length=1)
    quant: str = "Q4_K_M"
    context: int = Field(default=8192, ge=128, le=MAX_CONTEXT)
    parallel: int = Field(default=1, ge=1, le=MAX_PARALLEL)
    kv_type: str = "f16"
    runtime: str | None = None
    # Slowest stream worth serving (tokens/s, one stream); None: options.min_decode_tps (the
    # assessment's floor). 0 turns the floor off for batch work that only counts total tokens.
    min_tokens_per_s: float | None = Field(default=None, ge=0)
    replicas: ReplicaRange | None = None
    throughput: Throughput | None = None
    value: Value = Field(default_factory=lambda: Value(priority=1.0))
    constraints: Constraints = Field(default_factory=Constraints)

    @field_validator("context", mode="before")
    @classmethod
    def _context_tokens(cls, value: object) -> object:
        # `context: 8k` as on the command line (k = 1024); anything else goes to int validation.
        try:
            return parse_tokens(value)
        except ValueError:
            return value

    @field_validator("replicas", mode="before")
    @classmethod
    def _exact_count(cls, value: object) -> object:
        # `replicas: 3` is shorthand for exactly three
        if isinstance(value, int) and not isinstance(value, bool):
            return {"min": value, "max": value}
        return value

    @model_validator(mode="after")
    def _one_goal(self) -> Deployment:
        return _exactly_one(
            self, "replicas", "throughput", said=("replicas: {min, max}", "throughput: {...}")
        )


class Demand(_Model):
    deployments: list[Deployment] = Field(min_length=1, max_length=1_000)
    options: dict[str, Any] = Field(default_factory=dict)  # PlanOptions overrides

    @model_validator(mode="after")
    def _unique(self) -> Demand:
        seen: set[str] = set()
        for d in self.deployments:
            if d.name in seen:
                raise ValueError(f"deployment name {d.name!r} appears twice")
            seen.add(d.name)
        return self

    def plan_options(self, base: PlanOptions | None = None) -> PlanOptions:
        merged = (base or PlanOptions()).model_dump()
        merged.update(self.options)
        return PlanOptions.model_validate(merged)


_FIELD_NAMES = sorted(
    {f for m in (Deployment, ReplicaRange, Throughput, Value, Constraints, Demand) for f in m.model_fields}
)


def parse_demand(text: str, source: str = "<demand>") -> Demand:
    expected = "a demand file (docs/planner.md)"
    data, node = load_yaml_with_node(text, source, expected)
    if isinstance(data, dict) and "deployments" not in data and ("rigs" in data or "sites" in data):
        raise InputError(
            Problem(
                "this is a fleet, not a demand: the arguments look swapped",
                source,
                expected="the fleet file first, then the demand (`rigshift plan FLEET DEMAND`)",
            )
        )
    if not isinstance(data, dict) or node is None:
        raise InputError(Problem("a demand file is a mapping with a 'deployments' list", source, "line 1"))
    lines = line_index(node)
    locate = locator(lines)

    try:
        demand = Demand.model_validate(data)
    except ValidationError as error:
        raise InputError(
            problems_from_validation(error, source, locate=locate, known_fields=_FIELD_NAMES)
        ) from None
    try:
        demand.plan_options()
    except ValidationError as error:
        raise InputError(
            problems_from_validation(
                error,
                source,
                locate=lambda loc: f"line {line}" if (line := nearest_line(lines, loc)) else None,
                known_fields=PlanOptions.model_fields,
                prefix=("options",),
                first_only=True,
            )
        ) from None
    return demand


def load_demand(path: str | Path) -> Demand:
    return parse_demand(read_text(path, "a demand file (docs/planner.md)"), str(path))
