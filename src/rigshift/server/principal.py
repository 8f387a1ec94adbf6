"""Who is calling: a Bearer API key (the CLI, scripts) or a console session cookie (the browser).

FastAPI dependencies for routers: `caller` (any active key), `admin_caller` (an admin key).
A cookie-authenticated request that changes state must pass the CSRF check
(`console_auth.csrf_problem`); a session whose key was revoked (through the API or directly in the
database by `rigshift keys revoke`) stops working at its next request.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread
from starlette.requests import Request

from rigshift.server.console_auth import SESSION_COOKIE, Session, csrf_problem
from rigshift.server.keys import ApiKey


class AuthProblem(Exception):
    """Raised by the dependencies; the app maps it to an OpenAI-shaped 401/403."""

    def __init__(self, status: int, message: str, type: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type, code


@dataclass(frozen=True)
class Caller:
    key: ApiKey
    session: Session | None  # None: a Bearer key


async def resolve_caller(request: Request) -> Caller | None:
    """The caller, or None when there is no credential; raises AuthProblem on a CSRF failure."""
    state = request.app.state
    if request.headers.get("authorization"):
        key = await state.gateway.authenticate(request)
        return Caller(key, None) if key is not None else None
    session = state.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    key = await anyio.to_thread.run_sync(state.keys.get, session.key_id)
    if key is None or key.revoked:
        state.sessions.end_for_key(session.key_id)
        return None
    problem = csrf_problem(request, session)
    if problem is not None:
        raise AuthProblem(403, problem, "permission_error", "csrf_failed")
    return Caller(key, session)


async def caller(request: Request) -> Caller:
    found = await resolve_caller(request)
    if found is None:
        raise AuthProblem(
            401, "missing, unknown or revoked API key", "authentication_error", "invalid_api_key"
        )
    return found


async def admin_caller(request: Request) -> Caller:
    found = await caller(request)
    if not found.key.admin:
        raise AuthProblem(403, "this endpoint needs an admin key", "permission_error")
    return found
