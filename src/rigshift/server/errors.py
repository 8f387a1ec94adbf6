"""OpenAI-style error responses: {"error": {"message", "type", "code", "param"}}."""

from __future__ import annotations

import json

from starlette.responses import Response


def openai_error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    retry_after: str | None = None,
) -> Response:
    body = {"error": {"message": message, "type": type, "code": code, "param": param}}
    headers = {"Retry-After": retry_after} if retry_after else None
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)


def normalise_backend_error(status: int, body: bytes) -> Response:
    """A backend's own 4xx error, reshaped so clients always see OpenAI's fields.

    llama-server answers an over-long prompt with `type: exceed_context_size_error` and an integer
    `code`; the openai client expects `code: context_length_exceeded` there.
    """
    message = body.decode("utf-8", "replace")[:2000] or f"backend returned HTTP {status}"
    code: str | None = None
    try:
        parsed = json.loads(body)
        error = parsed.get("error", parsed) if isinstance(parsed, dict) else {}
        if isinstance(error, dict):
            message = str(error.get("message") or message)
            backend_type = str(error.get("type") or "")
            code = error.get("code") if isinstance(error.get("code"), str) else None
            if "context" in backend_type or "context" in message.lower():
                code = "context_length_exceeded"
    except (ValueError, AttributeError):
        pass
    return openai_error(status, message, code=code)
