"""Anthropic's `POST /v1/messages` (tenant key, in `x-api-key` or `Authorization: Bearer`).

Behind the same gateway as the OpenAI routes: keys, model permissions, capabilities, quotas,
rate limits, metering and the field whitelist (`request_fields.py`). Errors leave in Anthropic's
shape (`anthropic_shape.py`).
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from rigshift.server.anthropic_shape import anthropic_error
from rigshift.server.context import context

router = APIRouter(tags=["anthropic"])


async def messages(request: Request) -> Response:
    response = await context(request).gateway.handle(request, "messages")
    return anthropic_error(response) if response.status_code >= 400 else response


router.add_route("/v1/messages", messages, methods=["POST"], include_in_schema=False)
