"""Who is calling: `Depends` for tenant, admin and agent (join token) routes.

Each raises an error of the one tree (`NotAuthenticated`, `Forbidden`), which the app maps once to
OpenAI's error shape; a route that depends on one of these never runs for the wrong caller.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from rigshift.server.console_auth import SESSION_COOKIE, csrf_problem
from rigshift.server.context import ServerContext, context
from rigshift.server.errors import Forbidden, NotAuthenticated
from rigshift.server.services.keys import ApiKey

Context = Annotated[ServerContext, Depends(context)]


async def tenant_key(request: Request, ctx: Context) -> ApiKey:
    """A Bearer key, else the console's session cookie (CSRF-checked when the request changes state).
    A client whose presented keys keep failing is throttled (login_throttle.py)."""
    if "authorization" in request.headers or SESSION_COOKIE not in request.cookies:
        key = await ctx.gateway.authenticate(request)  # throttles a client whose keys keep failing
    else:
        key = await session_key(request, ctx)
    if key is None:
        raise NotAuthenticated("missing, unknown or revoked API key")
    return key


async def session_key(request: Request, ctx: ServerContext) -> ApiKey | None:
    """The key behind a console session; a key revoked since (through the API or in the database)
    ends its sessions here, at their next request."""
    session = ctx.sessions.get(request.cookies.get(SESSION_COOKIE)) if ctx.sessions else None
    if session is None or ctx.sessions is None:
        return None
    key = await ctx.keys.get(session.key_id)
    if key is None or key.revoked:
        ctx.sessions.end_for_key(session.key_id)
        return None
    problem = csrf_problem(request, session)
    if problem is not None:
        raise Forbidden(problem, code="csrf_failed")
    return key


async def admin_key(key: Annotated[ApiKey, Depends(tenant_key)]) -> ApiKey:
    if not key.admin:
        raise Forbidden("this endpoint needs an admin key")
    return key


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header, else None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def join_token_matches(presented: str | None, expected: str | None) -> bool:
    """The whole token, compared in constant time; no token configured means no agent gets in."""
    if not expected or presented is None:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def agent(request: Request, ctx: Context) -> None:
    if not join_token_matches(bearer_token(request), ctx.settings.join_token):
        raise NotAuthenticated("this endpoint needs the cluster's join token", code="invalid_join_token")


Tenant = Annotated[ApiKey, Depends(tenant_key)]
Admin = Annotated[ApiKey, Depends(admin_key)]
Agent = Depends(agent)
