"""The server's errors: refusals with OpenAI's fields, and the one mapping of errors to responses.

Every error a client sees has OpenAI's shape, `{"error": {"message", "type", "code", "param"}}`,
so the official clients raise their typed exceptions. Routes and services raise `ApiError`s (or
any `RigshiftError`: an `InputError` is a 400, an `UnknownNameError` a 404); `error_response` is
the only place that turns them into HTTP.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace

from pydantic import BaseModel
from starlette.responses import Response

from rigshift.errors import InputError, RigshiftError
from rigshift.readers.validation import Loc, ValidationErrors, fields_in, json_path, problems_from_validation
from rigshift.server.backend_errors import known_backend_error


class ApiError(RigshiftError):
    """A refusal over HTTP, with the fields OpenAI's error body carries."""

    http_status = 400
    exit_code = 2  # the CLI met a refusal: its input was wrong
    openai_type = "invalid_request_error"
    default_code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: str | None = None,
        status: int | None = None,
        type: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.param = param
        self.retry_after = retry_after
        if status is not None:
            self.http_status = status
        if type is not None:
            self.openai_type = type


class BadRequest(ApiError):
    http_status = 400


class NotAuthenticated(ApiError):
    http_status = 401
    openai_type = "authentication_error"
    default_code = "invalid_api_key"


class Forbidden(ApiError):
    http_status = 403
    openai_type = "permission_error"


class NotFound(ApiError):
    http_status = 404


class Conflict(ApiError):
    http_status = 409


class TooLarge(ApiError):
    http_status = 413
    default_code = "request_too_large"


class RateLimited(ApiError):
    http_status = 429
    openai_type = "rate_limit_exceeded"


class Unavailable(ApiError):
    http_status = 503
    exit_code = 4
    openai_type = "server_error"


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


def error_response(error: RigshiftError) -> Response:
    """The one mapping from the error tree to an OpenAI-shaped HTTP error."""
    if isinstance(error, ApiError):
        return openai_error(
            error.http_status,
            error.message,
            type=error.openai_type,
            code=error.code,
            param=error.param,
            retry_after=error.retry_after,
        )
    if isinstance(error, InputError):
        first = error.problems[0] if error.problems else None
        return openai_error(
            error.http_status,
            str(error),
            code="not_found" if error.http_status == 404 else "invalid_value",
            param=first.field if first else None,
        )
    kind = "invalid_request_error" if error.http_status < 500 else "server_error"
    return openai_error(error.http_status, str(error), type=kind, code=type(error).__name__)


def normalise_backend_error(status: int, body: bytes) -> Response:
    """A backend's own error, reshaped so clients always see OpenAI's fields.

    llama-server answers an over-long prompt with `type: exceed_context_size_error` and an integer
    `code`; the openai client expects `code: context_length_exceeded` there. A backend's 5xx goes
    out as 502 (the gateway itself did not fail; the server behind it did).
    """
    known = known_backend_error(status, body)  # a request this model cannot serve: a clear 400
    if known is not None:
        return openai_error(400, known.message, code=known.code, param=known.param)
    if status >= 500:
        detail = body.decode("utf-8", "replace")[:500]
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            parsed = json.loads(body)
            detail = str(parsed.get("error", parsed).get("message") or detail)
        return openai_error(
            502, f"the backend answered HTTP {status}: {detail}", type="server_error", code="backend_error"
        )
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


def invalid_request(error: ValidationErrors, body_model: type[BaseModel] | None = None) -> Response:
    """A request FastAPI could not validate, as a 400 in OpenAI's shape, worded by the readers' one
    pydantic formatter (`problems_from_validation`, as the CLI and `schemas.build` word the same
    body): no "Value error, " prefix, an unknown key with its did-you-mean from `body_model`, what a
    choice expects. Located as a JSON path in the body (`$.gpus[0].index`), else by the query or
    path parameter's name; `param` is that place."""
    problems = problems_from_validation(
        error,
        None,
        locate=_request_location,
        known_fields=fields_in(body_model) if body_model is not None else None,
        expected_from_pydantic=True,
    )
    if not problems:
        return openai_error(400, "invalid request", code="invalid_value")
    first = replace(problems[0], field=None)  # its location already names the field
    message = first.render() + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
    return openai_error(400, message, code="invalid_value", param=first.location)


def _request_location(loc: Loc) -> str:
    """FastAPI's ("body", "gpus", 0, "index") -> "$.gpus[0].index"; ("query", "since") -> "since"."""
    if not loc or loc[0] == "body":
        return json_path(loc[1:])
    return ".".join(str(part) for part in loc[1:]) or str(loc[0])
