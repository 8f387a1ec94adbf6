"""A small HTTP/1.1 client for the gateway's hop to inference backends.

Why not httpx here: at 32 concurrent streams the gateway's CPU goes mostly into the client side of
that hop, and httpx parses every SSE chunk through httpcore + h11 (pure Python) and anyio. This
client writes each request with one `write`, parses responses with `httptools` (llhttp, C; the
parser uvicorn uses) and hands body bytes over as they arrive, which cuts the per-event cost
several-fold. It does only what the hop needs: POST with a JSON body, keep-alive pooling per
backend, chunked or sized bodies, connect and read timeouts. Anything that goes wrong on the wire
is a `BackendConnectionError`; whether nothing was received yet (so the request can move to
another replica) is the caller's call.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools


class BackendConnectionError(Exception):
    """Connecting, writing or reading failed, or the backend closed the connection early."""

    def __init__(self, message: str, *, stale: bool = False):
        super().__init__(message)
        self.stale = stale  # a reused keep-alive connection was found closed before any byte


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reused: bool = False

    def close(self) -> None:
        self.writer.close()


@dataclass
class _Parsing:
    """httptools callbacks write here."""

    status: int = 0
    headers_done: bool = False
    complete: bool = False
    body: list[bytes] = field(default_factory=list)
    content_type: str = ""
    keep_alive: bool = False
    parser: httptools.HttpResponseParser | None = None

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-type":
            self.content_type = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.headers_done = True
        # Only meaningful now: llhttp resets it once the message is complete.
        self.keep_alive = self.parser is not None and self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class BackendResponse:
    """Status and headers are read; the body arrives through `chunks()` or `read()`."""

    def __init__(
        self,
        pool: BackendPool,
        key: tuple[str, int],
        conn: _Connection,
        state: _Parsing,
        parser: httptools.HttpResponseParser,
        read_timeout: float,
    ):
        self._pool, self._key, self._conn, self._state, self._parser = pool, key, conn, state, parser
        self._read_timeout = read_timeout
        self.status_code = parser.get_status_code()
        self.content_type = state.content_type
        self._closed = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive (already de-chunked)."""
        state = self._state
        while True:
            if state.body:
                pending, state.body = state.body, []
                yield b"".join(pending)
            if state.complete:
                self._release()
                return
            await self._read_more()

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    async def _read_more(self) -> None:
        try:
            async with asyncio.timeout(self._read_timeout):
                data = await self._conn.reader.read(65536)
        except (OSError, TimeoutError) as error:
            self.close()
            raise BackendConnectionError(f"{type(error).__name__}: {error}") from error
        if not data:
            self.close()
            raise BackendConnectionError("the backend closed the connection mid-response")
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self.close()
            raise BackendConnectionError(f"bad HTTP from the backend: {error}") from error

    def _release(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._state.keep_alive:
            self._pool._put(self._key, self._conn)
        else:
            self._conn.close()

    def close(self) -> None:
        """Give up on the response (client went away, error): the connection is not reused."""
        if not self._closed:
            self._closed = True
            self._conn.close()


class BackendPool:
    def __init__(
        self, *, connect_timeout: float = 2.0, read_timeout: float = 600.0, max_idle_per_backend: int = 256
    ):
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle = max_idle_per_backend
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def post(self, url: str, body: bytes, headers: dict[str, str] | None = None) -> BackendResponse:
        """POST `body` as JSON; returns once the status line and headers are in.

        A reused keep-alive connection that turns out closed is retried once on a new one,
        since that is the backend's housekeeping, not a failure.
        """
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        key = (host, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        head = (
            f"POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Accept: */*\r\nContent-Length: {len(body)}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
            + "\r\n"
        ).encode("latin-1")
        try:
            return await self._attempt(key, head + body)
        except BackendConnectionError as error:
            if not error.stale:
                raise
            return await self._attempt(key, head + body, fresh=True)

    async def _attempt(self, key: tuple[str, int], request: bytes, fresh: bool = False) -> BackendResponse:
        conn = None if fresh else self._get(key)
        if conn is None:
            conn = await self._connect(key)
        state = _Parsing()
        parser = httptools.HttpResponseParser(state)
        state.parser = parser
        try:
            conn.writer.write(request)
            async with asyncio.timeout(self.read_timeout):
                while not state.headers_done:
                    data = await conn.reader.read(65536)
                    if not data:
                        conn.close()
                        raise BackendConnectionError(
                            "the backend closed the connection before answering", stale=conn.reused
                        )
                    parser.feed_data(data)
        except (OSError, TimeoutError, httptools.HttpParserError) as error:
            conn.close()
            stale = conn.reused and isinstance(error, ConnectionError)
            raise BackendConnectionError(f"{type(error).__name__}: {error}", stale=stale) from error
        return BackendResponse(self, key, conn, state, parser, self.read_timeout)

    async def _connect(self, key: tuple[str, int]) -> _Connection:
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(key[0], key[1])
        except (OSError, TimeoutError) as error:
            raise BackendConnectionError(f"cannot connect to {key[0]}:{key[1]}: {error}") from error
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Connection(reader, writer)

    def _get(self, key: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.writer.is_closing() and not conn.reader.at_eof():
                conn.reused = True
                return conn
            conn.close()
        return None

    def _put(self, key: tuple[str, int], conn: _Connection) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) < self.max_idle and not conn.writer.is_closing():
            idle.append(conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
