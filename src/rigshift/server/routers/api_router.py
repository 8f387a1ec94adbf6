"""`api_router()`: the APIRouter every management router uses.

Its routes read JSON bodies strictly (`strict_json`) before FastAPI parses them, so NaN, 1e400,
lone surrogates and deep nesting are a 400 here too, not stored values or a 500 later; and a
body without a Content-Type is still read as JSON (the CLI and curl users often omit it).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from rigshift.server.strict_json import MAX_DEPTH, loads_strict

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class StrictJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            if request.method in _BODY_METHODS:
                kind = request.headers.get("content-type", "")
                if not kind or "json" in kind:
                    body = await request.body()
                    if body:
                        settings = getattr(getattr(request.app.state, "ctx", None), "settings", None)
                        loads_strict(body, max_depth=getattr(settings, "max_json_depth", MAX_DEPTH))
            return await handler(request)

        return strict


def api_router(**options: Any) -> APIRouter:
    return APIRouter(route_class=StrictJsonRoute, strict_content_type=False, **options)
