"""Request and response bodies of the management API, as strict pydantic models.

Strict means what a client writes is what is stored: `"admin": "false"` is refused rather than
read as true, `1e400` is not an integer, a string is not a list of model names, and every number
is finite and bounded. Unknown fields are refused too, so a misspelt `rate_limit_rmp` does not
silently create an unlimited key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    model_validator,
)

from rigshift.errors import InputError
from rigshift.readers.names import printable
from rigshift.readers.validation import problems_from_validation
from rigshift.run.spec import ModelSource, ReplicaSpec

# A model name as clients send it in "model": no commas (keys store the list comma-separated),
# no whitespace or control characters; "*" alone means any model.
MODEL_NAME_PATTERN = r"^(\*|[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199})$"
# Ids and names that end up in logs, labels and file names.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"

ModelName = Annotated[str, StringConstraints(pattern=MODEL_NAME_PATTERN)]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
# What the planner writes into plans: replica ids like "chat@rig-01/0+1#0", deployment names from
# the demand file. Printable text of bounded length; no control characters, no newlines.
PlanText = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,400}$"), printable]
ServedModel = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f,]{1,200}$"), printable]
Count = Annotated[int, Field(ge=0, le=2**53)]  # JSON numbers are exact up to 2^53


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class KeyCreate(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), printable]
    admin: StrictBool = False
    allowed_models: Annotated[list[ModelName], Field(min_length=1, max_length=1000)] = ["*"]
    token_quota: Count | None = None  # prompt + completion tokens per period; None: unlimited
    quota_period: Literal["day", "month"] = "month"
    rate_limit_rpm: Annotated[int, Field(ge=1, le=10**9)] | None = None  # 0 would lock the key out


class KeyOut(BaseModel):
    id: str
    name: str
    admin: bool
    allowed_models: list[str]
    token_quota: int | None
    quota_period: str
    rate_limit_rpm: int | None
    created_at: float
    revoked_at: float | None


class KeyCreated(KeyOut):
    key: str  # the secret, shown this once


class KeyList(BaseModel):
    data: list[KeyOut]


class ModelSourceIn(Strict):
    kind: Literal["path", "store", "hf", "demo"]
    uri: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None


Runtime = Literal["llama.cpp-cuda", "llama.cpp-vulkan", "llama.cpp-rocm", "llama.cpp-cpu", "vllm"]


class ReplicaSpecIn(Strict):
    """One replica of the desired plan (the data plane's `ReplicaSpec`), checked before storing."""

    replica_id: PlanText
    deployment: PlanText
    model: ServedModel
    source: ModelSourceIn
    rig: PlanText
    gpu_indices: Annotated[list[Annotated[int, Field(ge=0, le=1023)]], Field(max_length=64)] = []
    gpu_models: Annotated[list[Annotated[str, StringConstraints(max_length=200)]], Field(max_length=64)] = []
    runtime: Runtime = "llama.cpp-cpu"
    context: Annotated[int, Field(gt=0, le=16 * 1024 * 1024)] = 4096
    parallel: Annotated[int, Field(ge=1, le=1024)] = 1
    tensor_split: Annotated[list[Annotated[float, Field(ge=0, le=1e6)]], Field(max_length=64)] = []
    watts: Annotated[float, Field(ge=0, le=1e6)] | None = None
    embeddings: StrictBool = False
    reranking: StrictBool = False
    extra_args: Annotated[list[Annotated[str, StringConstraints(max_length=1000)]], Field(max_length=64)] = []
    labels: Annotated[
        dict[str, Annotated[str, StringConstraints(max_length=1000)]], Field(max_length=64)
    ] = {}

    @model_validator(mode="after")
    def _one_kind(self) -> ReplicaSpecIn:
        if self.embeddings and self.reranking:
            raise ValueError("a replica serves embeddings or rerank, not both (one llama-server pooling)")
        return self

    def to_spec(self) -> ReplicaSpec:
        data: dict[str, Any] = self.model_dump()
        data["source"] = ModelSource(**data["source"])
        for key in ("gpu_indices", "gpu_models", "tensor_split", "extra_args"):
            data[key] = tuple(data[key])
        return ReplicaSpec(**data)


class DataList(BaseModel):
    """A list response; `data` items are plain records."""

    data: list[dict[str, Any]]


class UsageReport(BaseModel):
    object: str = "list"
    by: str
    since: float | None
    data: list[dict[str, Any]]


GroupBy = Literal["key", "model", "rig"]
M = TypeVar("M", bound=BaseModel)


def build(model: type[M], data: dict[str, Any], *, source: str | None = None) -> M:
    """`model(**data)`, or an `InputError` naming each bad field (for callers outside FastAPI:
    the CLI's local control plane builds the same request models the API reads)."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = problems_from_validation(error, source, dotted_field=True, expected_from_pydantic=True)
        raise InputError(problems) from None
