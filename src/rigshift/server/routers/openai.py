"""The OpenAI-compatible routes: `/v1/models`, `/v1/chat/completions`, `/v1/completions`,
`/v1/embeddings` (tenant key).

Plain Starlette routes on the hot path: FastAPI's dependency solving per request costs more than
the routing itself, and the gateway forwards the raw body. The gateway authenticates, parses the
body strictly and raises nothing a client could turn into a 500.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from rigshift.server.context import context

router = APIRouter(tags=["openai"])


async def models(request: Request) -> Response:
    return await context(request).gateway.list_models(request)


async def chat(request: Request) -> Response:
    return await context(request).gateway.handle(request, "chat")


async def completions(request: Request) -> Response:
    return await context(request).gateway.handle(request, "completions")


async def embeddings(request: Request) -> Response:
    return await context(request).gateway.handle(request, "embeddings")


router.add_route("/v1/models", models, methods=["GET"], include_in_schema=False)
router.add_route("/v1/chat/completions", chat, methods=["POST"], include_in_schema=False)
router.add_route("/v1/completions", completions, methods=["POST"], include_in_schema=False)
router.add_route("/v1/embeddings", embeddings, methods=["POST"], include_in_schema=False)
