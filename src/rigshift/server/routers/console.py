"""The web console: its static files at `/`, and login / logout / session for the browser.

A key (admin or tenant) logs in once; the session cookie is HttpOnly and SameSite=Strict, and the
CSRF token the console must echo on changes is handed out by `GET /console/session`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import FileResponse, JSONResponse, Response

from rigshift.server.console_auth import SESSION_COOKIE, cleared_cookie, csrf_problem, session_cookie
from rigshift.server.deps import Context, Tenant
from rigshift.server.errors import Forbidden, NotAuthenticated, NotFound
from rigshift.server.login_throttle import client_address
from rigshift.server.routers.api_router import api_router

ASSETS = Path(__file__).resolve().parent.parent / "console"
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}
# The console loads nothing from elsewhere and runs no inline script: a strict CSP costs nothing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = api_router(tags=["console"])


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=512, description="An API key (admin or tenant)")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("/", include_in_schema=False)
async def index() -> Response:
    return FileResponse(ASSETS / "index.html", media_type="text/html", headers=SECURITY_HEADERS)


@router.get("/console/assets/{name:path}", include_in_schema=False)
async def asset(name: str) -> Response:
    path = (ASSETS / name).resolve()
    # The console's own files and its vendored libraries (console/vendor/), nothing else.
    if path.parent not in (ASSETS, ASSETS / "vendor") or path.suffix not in ASSET_TYPES or not path.is_file():
        raise NotFound(f"no console asset {name!r}", code="not_found")
    # Assets change only with the installed version; a short cache keeps reloads instant without
    # serving a stale console for long after an upgrade.
    headers = {**SECURITY_HEADERS, "Cache-Control": "max-age=300"}
    return FileResponse(path, media_type=ASSET_TYPES[path.suffix], headers=headers)


@router.post("/console/login")
async def login(body: LoginRequest, request: Request, ctx: Context) -> Response:
    """Trade an API key for a session cookie (the key itself never reaches the browser's storage)."""
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
        raise Forbidden(f"cross-origin login from {origin} refused", code="csrf_failed")
    client = client_address(request.client.host if request.client else None)
    secret = body.key.strip()
    ctx.login_throttle.check(client, secret)
    key = await ctx.keys.verify(secret)
    if key is None or ctx.sessions is None:
        ctx.login_throttle.failed(client)
        raise NotAuthenticated("unknown or revoked API key")
    ctx.login_throttle.succeeded(client, secret)
    token, session = ctx.sessions.create(key.id, admin=key.admin, name=key.name)
    response = JSONResponse(_session_json(key.id, key.name, key.admin, session.csrf_token))
    response.headers["set-cookie"] = session_cookie(
        token, secure=_secure(request), max_age=int(ctx.sessions.ttl_s)
    )
    return response


@router.post("/console/logout")
async def logout(request: Request, ctx: Context) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    session = ctx.sessions.get(token) if ctx.sessions else None
    if session is not None and ctx.sessions is not None:
        problem = csrf_problem(request, session)
        if problem is not None:
            raise Forbidden(problem, code="csrf_failed")
        ctx.sessions.end(token)
    response = Response(status_code=204)
    response.headers["set-cookie"] = cleared_cookie(secure=_secure(request))
    return response


@router.get("/console/session")
async def who_am_i(request: Request, ctx: Context, key: Tenant) -> Response:
    """Who this session (or Bearer key) is, and the CSRF token the console echoes on changes."""
    session = None
    if "authorization" not in request.headers and ctx.sessions is not None:
        session = ctx.sessions.get(request.cookies.get(SESSION_COOKIE))
    csrf = session.csrf_token if session else None
    return JSONResponse(_session_json(key.id, key.name, key.admin, csrf))


def _session_json(key_id: str, name: str, admin: bool, csrf: str | None) -> dict[str, object]:
    return {"key_id": key_id, "name": name, "admin": admin, "csrf_token": csrf}
