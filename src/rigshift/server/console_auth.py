"""Console sessions: an API key logs in once; the browser then holds an HttpOnly session cookie.

Why server-side sessions: a key never sits in the browser (not in JS, not in storage), logging out
or revoking the key ends the session at once, and nothing needs a signing secret kept on disk.
Sessions live in memory: a restarted server asks for the key again, which is the safe failure.

CSRF: the cookie is SameSite=Strict, and every state-changing request made with the cookie must
also carry the session's CSRF token in an `X-CSRF-Token` header (the console reads it from
`GET /console/session`, which only a same-origin script can read) and, where the browser sends
one, an `Origin` equal to the server's own. Bearer-key requests carry no ambient credential and
need neither.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request

SESSION_COOKIE = "rigshift_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Session:
    key_id: str
    admin: bool
    name: str
    csrf_token: str
    expires_at: float


class SessionStore:
    """Session id (hashed) -> Session. The cookie carries the id; the store keeps only its hash,
    so a memory dump or a log line of the table does not yield a usable cookie."""

    def __init__(self, clock: Callable[[], float], ttl_s: float = 12 * 3600.0):
        self.clock = clock
        self.ttl_s = ttl_s
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, key_id: str, *, admin: bool, name: str) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(key_id, admin, name, secrets.token_urlsafe(24), self.clock() + self.ttl_s)
        with self._lock:
            self._expire()
            self._sessions[_digest(token)] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(_digest(token))
            if session is not None and session.expires_at <= self.clock():
                self._sessions.pop(_digest(token), None)
                return None
        return session

    def end(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(_digest(token), None)

    def end_for_key(self, key_id: str) -> None:
        """A revoked key's sessions end with it."""
        with self._lock:
            self._sessions = {h: s for h, s in self._sessions.items() if s.key_id != key_id}

    def _expire(self) -> None:
        now = self.clock()
        self._sessions = {h: s for h, s in self._sessions.items() if s.expires_at > now}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_problem(request: Request, session: Session) -> str | None:
    """Why a cookie-authenticated request may not change anything, or None when it may."""
    if request.method in SAFE_METHODS:
        return None
    origin = request.headers.get("origin")
    if origin is not None and not _same_origin(origin, request):
        return f"cross-origin request from {origin} refused"
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        return "missing or wrong CSRF token (X-CSRF-Token header)"
    return None


def _same_origin(origin: str, request: Request) -> bool:
    host = request.headers.get("host", "")
    parts = urlsplit(origin)
    return parts.netloc == host and parts.scheme in ("http", "https")


def session_cookie(token: str, *, secure: bool, max_age: int) -> str:
    """The Set-Cookie value: not readable by scripts, never sent cross-site."""
    flags = f"; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict"
    return f"{SESSION_COOKIE}={token}{flags}" + ("; Secure" if secure else "")


def cleared_cookie(*, secure: bool) -> str:
    return session_cookie("", secure=secure, max_age=0)
