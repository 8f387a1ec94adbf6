"""A size limit on every request body, authenticated or not (pure ASGI middleware).

A declared `Content-Length` over the limit is answered 413 before the body is read; a chunked
body is counted as it arrives and refused the moment it passes the limit, so no request can make
the server buffer more than the limit. Model uploads have their own, larger, limit.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rigshift.server.errors import TooLarge, error_response


class BodySizeLimit:
    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int | None]):
        """`limit_for(path)`: the most bytes a body to `path` may have (None: no limit)."""
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await _refuse(limit, scope, receive, send)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise TooLarge(f"the request body is larger than the limit of {limit} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except TooLarge as error:
            if started:
                raise
            await error_response(error)(scope, receive, send)


async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    error = TooLarge(f"the request body is larger than the limit of {limit} bytes")
    await error_response(error)(scope, receive, send)
