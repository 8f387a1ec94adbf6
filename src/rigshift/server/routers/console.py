"""The web console: its static files at `/`, and login / logout / session for the browser.

A key (admin or tenant) logs in once; the session cookie is HttpOnly and SameSite=Strict, and the
CSRF token the console must echo on changes is handed out by `GET /console/session`.
"""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import FileResponse, JSONResponse, Response

from rigshift.server.console_auth import SESSION_COOKIE, cleared_cookie, csrf_problem, session_cookie
from rigshift.server.errors import openai_error
from rigshift.server.principal import Caller, caller

ASSETS = Path(__file__).resolve().parent.parent / "console"
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}
# The console loads nothing from elsewhere and runs no inline script: a strict CSP costs nothing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(tags=["console"])


class LoginRequest(BaseModel):
    key: str = Field(min_length=1, max_length=512, description="An API key (admin or tenant)")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("/", include_in_schema=False)
async def index() -> Response:
    return FileResponse(ASSETS / "index.html", media_type="text/html", headers=SECURITY_HEADERS)


@router.get("/console/assets/{name}", include_in_schema=False)
async def asset(name: str) -> Response:
    path = (ASSETS / name).resolve()
    if path.parent != ASSETS or path.suffix not in ASSET_TYPES or not path.is_file():
        return openai_error(404, f"no console asset {name!r}", code="not_found")
    # Assets change only with the installed version; a short cache keeps reloads instant without
    # serving a stale console for long after an upgrade.
    headers = {**SECURITY_HEADERS, "Cache-Control": "max-age=300"}
    return FileResponse(path, media_type=ASSET_TYPES[path.suffix], headers=headers)


@router.post("/console/login")
async def login(body: LoginRequest, request: Request) -> Response:
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
        return openai_error(403, f"cross-origin login from {origin} refused", type="permission_error")
    state = request.app.state
    key = await anyio.to_thread.run_sync(state.keys.authenticate, body.key.strip())
    if key is None:
        return openai_error(
            401, "unknown or revoked API key", type="authentication_error", code="invalid_api_key"
        )
    token, session = state.sessions.create(key.id, admin=key.admin, name=key.name)
    response = JSONResponse(_session_json(key.id, key.name, key.admin, session.csrf_token))
    response.headers["set-cookie"] = session_cookie(
        token, secure=_secure(request), max_age=int(state.sessions.ttl_s)
    )
    return response


@router.post("/console/logout")
async def logout(request: Request) -> Response:
    state = request.app.state
    token = request.cookies.get(SESSION_COOKIE)
    session = state.sessions.get(token)
    if session is not None:
        problem = csrf_problem(request, session)
        if problem is not None:
            return openai_error(403, problem, type="permission_error", code="csrf_failed")
        state.sessions.end(token)
    response = Response(status_code=204)
    response.headers["set-cookie"] = cleared_cookie(secure=_secure(request))
    return response


@router.get("/console/session")
async def who_am_i(who: Caller = Depends(caller)) -> Response:  # noqa: B008
    csrf = who.session.csrf_token if who.session else None
    return JSONResponse(_session_json(who.key.id, who.key.name, who.key.admin, csrf))


def _session_json(key_id: str, name: str, admin: bool, csrf: str | None) -> dict[str, object]:
    return {"key_id": key_id, "name": name, "admin": admin, "csrf_token": csrf}
