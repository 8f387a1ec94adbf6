"""Anthropic's Messages API at the gateway: its key header and its error shape.

The request, the reply and the stream events are llama-server's own `/v1/messages`
(server-chat.cpp converts the request to a chat completion and answers in Anthropic's shapes),
so the gateway forwards them like any other route. Two things are Anthropic's at the edge: the
`x-api-key` header (Anthropic's SDK sends the key there, not in `Authorization`) and the error
body, `{"type": "error", "error": {"type", "message"}}`, which the SDK reads its message from.
"""

from __future__ import annotations

import json

from starlette.responses import Response

# HTTP status -> Anthropic's error type (docs.anthropic.com/en/api/errors, read 2026-12).
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def anthropic_error(response: Response) -> Response:
    """An OpenAI-shaped error response in Anthropic's shape (status and headers kept)."""
    message = ""
    try:
        body = json.loads(bytes(response.body))
        message = str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = bytes(response.body).decode("utf-8", "replace")[:2000]
    status = response.status_code
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    headers = {k: v for k, v in response.headers.items() if k.lower() == "retry-after"}
    return Response(
        json.dumps({"type": "error", "error": {"type": kind, "message": message}}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def anthropic_stream_error(message: str) -> bytes:
    """The `error` event Anthropic's SDK raises on, for a stream the backend cut."""
    body = {"type": "error", "error": {"type": "api_error", "message": message}}
    return b"event: error\ndata: " + json.dumps(body).encode() + b"\n\n"
