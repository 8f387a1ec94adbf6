"""Limits uvicorn's HTTP/1.1 parser does not set: the size of a request head and how long a
client may take to send it and its body.

uvicorn with httptools reads request heads of any size (a 1 MiB header was served) and has no
read timeout before the first response (a socket sending one byte a second stays open for ever:
slowloris). This protocol counts the request line and headers as the parser hands them over and
answers 431 past `MAX_HEAD_BYTES`; a head not complete within `HEAD_TIMEOUT_S` of its first byte
(or of the connection, for a client that sends nothing) is answered 408 and the connection
closed; a body that stalls (fewer than `MIN_BODY_BYTES_PER_S` over a `BODY_CHECK_S` window while
the server is waiting for it) likewise. Everything else is uvicorn's own `HttpToolsProtocol`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# nginx's default large_client_header_buffers is 4 × 8 KiB; 64 KiB leaves room for long
# cookies and bearer tokens and none for a megabyte.
MAX_HEAD_BYTES = 64 * 1024
HEAD_TIMEOUT_S = 10.0
BODY_CHECK_S = 15.0
MIN_BODY_BYTES_PER_S = 256.0
LINGER_S = 2.0
LINGER_MAX_BYTES = 16 * 1024 * 1024

logger = logging.getLogger("rigshift.server.http")


class _HeadTooLarge(Exception):
    pass


def _reply(transport: asyncio.Transport, status: str, message: str, close: bool = True) -> None:
    """A complete error response in OpenAI's error shape, then close: the request never reached
    the app, so the app's error handlers cannot answer it."""
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    body = json.dumps({"error": error}).encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    ).encode()
    if not transport.is_closing():  # uvloop's transports are no asyncio.WriteTransport subclass
        transport.write(head + body)
    if close:
        transport.close()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES
    head_timeout_s = HEAD_TIMEOUT_S
    body_check_s = BODY_CHECK_S
    min_body_bytes_per_s = MIN_BODY_BYTES_PER_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._reading_head = True
        self._head_too_large = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_bytes = 0
        self._discarding: int | None = None  # bytes read and dropped after a refusal

    # Connection and parser callbacks: count, arm and disarm the timers, then uvicorn's own.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._reading_head = True
        if self._head_timer is None:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()
        if self.parser is not None and not self.transport.is_closing():
            self._body_bytes = 0
            self._body_timer = self.loop.call_later(self.body_check_s, self._check_body, 0)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        if self._discarding is not None:
            self._discarding += len(data)
            if self._discarding > LINGER_MAX_BYTES:
                self.transport.close()
            return
        try:
            super().data_received(data)
        finally:
            if self._head_too_large:
                self._head_too_large = False
                self._cancel_timers()
                logger.info("%s: request head over %d bytes: 431", self._peer(), self.max_head_bytes)
                _reply(self.transport, "431 Request Header Fields Too Large", "request head too large", False)
                self._linger()

    def send_400_response(self, msg: str) -> None:
        if self._head_too_large:
            return  # data_received answers 431 instead
        super().send_400_response(msg)

    # The limits.
    def _count_head(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > self.max_head_bytes:
            self._head_too_large = True
            raise _HeadTooLarge  # stops the parser: httptools raises HttpParserCallbackError

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._reading_head or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm_head_timer()  # a pipelined head waits on the request before it: not slow
            return
        logger.info("%s: no complete request head in %g s: 408", self._peer(), self.head_timeout_s)
        _reply(self.transport, "408 Request Timeout", "request head not received in time")

    def _check_body(self, seen_before: int) -> None:
        self._body_timer = None
        cycle = self.cycle
        if cycle is None or not cycle.more_body or cycle.response_complete or self.transport.is_closing():
            return
        arrived = self._body_bytes - seen_before
        if self.flow.read_paused or arrived >= self.min_body_bytes_per_s * self.body_check_s:
            self._body_timer = self.loop.call_later(self.body_check_s, self._check_body, self._body_bytes)
            return
        logger.info(
            "%s: request body stalled (%d bytes in %g s): closed", self._peer(), arrived, self.body_check_s
        )
        cycle.disconnected = True
        cycle.message_event.set()
        self.transport.close()

    def _linger(self) -> None:
        """Read and drop what the client is still sending for a moment before closing: closed at
        once, a client still writing its head gets a reset instead of the 431 (nginx's
        lingering close does the same)."""
        self._discarding = 0
        self.parser = None  # type: ignore[assignment]
        self.loop.call_later(LINGER_S, self.transport.close)

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "client"
