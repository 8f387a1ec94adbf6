"""The OpenAI-compatible routes: `/v1/models` (and `/v1/models/{id}`), `/v1/chat/completions`,
`/v1/completions`, `/v1/embeddings`, `/v1/rerank` (llama.cpp's / Jina's / Cohere's shape) (tenant key).

Plain Starlette routes on the hot path: FastAPI's dependency solving per request costs more than
the routing itself, and the gateway forwards the raw body. The gateway authenticates, parses the
body strictly and raises nothing a client could turn into a 500.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from rigshift.server.context import context
from rigshift.server.routers.responses import ResponseCreateRequest

router = APIRouter(tags=["openai"])


async def models(request: Request) -> Response:
    return await context(request).gateway.list_models(request)


async def retrieve_model(request: Request) -> Response:
    return await context(request).gateway.retrieve_model(request, request.path_params["model"])


async def chat(request: Request) -> Response:
    return await context(request).gateway.handle(request, "chat")


async def completions(request: Request) -> Response:
    return await context(request).gateway.handle(request, "completions")


async def embeddings(request: Request) -> Response:
    return await context(request).gateway.handle(request, "embeddings")


async def rerank(request: Request) -> Response:
    return await context(request).gateway.handle(request, "rerank")


router.add_route("/v1/models", models, methods=["GET"], include_in_schema=False)
router.add_route("/v1/models/{model:path}", retrieve_model, methods=["GET"], include_in_schema=False)
router.add_route("/v1/chat/completions", chat, methods=["POST"], include_in_schema=False)
router.add_route("/v1/completions", completions, methods=["POST"], include_in_schema=False)
router.add_route("/v1/embeddings", embeddings, methods=["POST"], include_in_schema=False)
router.add_route("/v1/rerank", rerank, methods=["POST"], include_in_schema=False)


# --- the routes' OpenAPI description ----------------------------------------------------------
# The handlers read raw bytes (see above), so FastAPI cannot derive their schema; these models
# describe the bodies the gateway accepts (extra fields pass through to the backend). They feed
# /openapi.json and the schema-driven fuzz tests, never the hot path.


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class _Generation(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=256)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=0)
    n: int | None = Field(default=None, ge=1, le=128)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    seed: int | None = None


class ChatCompletionRequest(_Generation):
    messages: list[Message]


class CompletionRequest(_Generation):
    prompt: str | list[str] | list[int]


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=256)
    input: str | list[str] | list[int]


class RerankRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=256)
    query: str
    documents: list[str] = Field(min_length=1)
    top_n: int | None = Field(default=None, ge=1)


class AnthropicMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class AnthropicMessagesRequest(BaseModel):
    """Anthropic's Messages API (`x-api-key` or `Authorization: Bearer`; errors in its shape)."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=256)
    max_tokens: int = Field(ge=1)
    messages: list[AnthropicMessage]
    system: str | list[dict[str, Any]] | None = None
    stream: bool | None = None


_BODIES: dict[str, type[BaseModel]] = {
    "/v1/chat/completions": ChatCompletionRequest,
    "/v1/completions": CompletionRequest,
    "/v1/embeddings": EmbeddingRequest,
    "/v1/rerank": RerankRequest,
    "/v1/messages": AnthropicMessagesRequest,
    "/v1/responses": ResponseCreateRequest,
}
_ERROR = {"description": "an error in OpenAI's shape: {error: {message, type, code, param}}"}


def add_openai_paths(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the OpenAI routes to a FastAPI-generated OpenAPI document (in place; returned)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    paths = schema.setdefault("paths", {})
    security: list[dict[str, list[str]]] = [{"bearer": []}]
    schema["components"].setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
    for path, model in _BODIES.items():
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body.pop("$defs", {}))
        components[model.__name__] = body
        paths[path] = {
            "post": {
                "tags": ["openai"],
                "operationId": model.__name__.removesuffix("Request").lower(),
                "security": security,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
                    },
                },
                "responses": {
                    "200": {"description": "the backend's answer (JSON, or SSE when streaming)"},
                    "4XX": _ERROR,
                    "5XX": _ERROR,
                },
            }
        }
    paths["/v1/models"] = {
        "get": {
            "tags": ["openai"],
            "operationId": "list_models",
            "security": security,
            "responses": {"200": {"description": "the models this key may use"}, "4XX": _ERROR},
        }
    }
    paths["/v1/models/{model}"] = {
        "get": {
            "tags": ["openai"],
            "operationId": "retrieve_model",
            "security": security,
            "parameters": [{"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "the model, with its capabilities"}, "4XX": _ERROR},
        }
    }
    return schema
