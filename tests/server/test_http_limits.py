"""The HTTP server's own limits (server/http_limits.py): request heads bounded in size and time,
stalled bodies closed. Regressions of the adversarial run: a 1 MiB header was served and sockets
sending a byte a second stayed open."""

from __future__ import annotations

import json
import logging
import socket

import httpx
import pytest

from process_helpers import wait_for
from rigshift.server.http_limits import MAX_HEAD_BYTES, BoundedHttpToolsProtocol


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (bounded by the socket's timeout)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_one_mebibyte_header_is_refused_with_431_and_a_normal_one_is_served(gateway):  # type: ignore[no-untyped-def]
    g = gateway([])
    assert httpx.get(g.url + "/healthz", headers={"x-pad": "a" * 16_000}).status_code == 200
    refused = httpx.get(g.url + "/healthz", headers={"x-pad": "a" * (1 << 20)})
    assert refused.status_code == 431
    assert refused.json()["error"]["type"] == "invalid_request_error"
    many = httpx.get(g.url + "/healthz", headers={f"x-{i}": "a" * 100 for i in range(MAX_HEAD_BYTES // 100)})
    assert many.status_code == 431  # the sum of the headers counts, not each one


def test_a_head_sent_a_byte_at_a_time_is_cut_off(gateway, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(BoundedHttpToolsProtocol, "head_timeout_s", 0.5)
    g = gateway([])
    with _connect(g.url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")  # and never the blank line
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408")
    assert (
        json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["message"] == "request head not received in time"
    )
    with _connect(g.url) as silent:  # a connection that sends nothing is closed as well
        assert _read_all(silent).startswith(b"HTTP/1.1 408")
    assert httpx.get(g.url + "/healthz").status_code == 200  # a normal client is not hurt


def test_a_stalled_body_is_closed(gateway, monkeypatch):  # type: ignore[no-untyped-def]
    """Headers complete, then one byte of a 1000-byte body and nothing more: the app waits for the
    body it was promised, so without a check the connection stayed open for ever."""
    monkeypatch.setattr(BoundedHttpToolsProtocol, "body_check_s", 0.5)
    g = gateway([])
    key = g.key("tenant").encode()
    with _connect(g.url) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"authorization: Bearer " + key + b"\r\ncontent-length: 1000\r\n\r\n{"
        )
        try:
            answer = _read_all(sock)
        except ConnectionResetError:
            answer = b""
    assert answer == b""  # closed (a socket timeout here is the old behaviour)


@pytest.mark.parametrize("size", [100, 60_000])
def test_request_bodies_larger_than_the_head_limit_are_still_read(gateway, size):  # type: ignore[no-untyped-def]
    """Only the head counts: a body of any size (up to the body limit) is not a large head."""
    g = gateway([])
    response = httpx.post(
        g.url + "/v1/chat/completions", content=b"x" * size * 3, headers={"authorization": "Bearer no"}
    )
    assert response.status_code == 401


def test_a_client_that_hangs_up_mid_body_is_logged_as_such_not_as_an_error(gateway, engine, caplog):  # type: ignore[no-untyped-def]
    """Regression: a client closing its connection before the body was read logged uvicorn's
    "Exception in ASGI application" traceback (starlette's ClientDisconnect) at ERROR."""
    from rigshift.server.stores.keys import KeyStore

    g = gateway([])
    _k, admin = KeyStore(engine).create("admin", now=1.0, admin=True)
    errors: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = errors.append  # type: ignore[method-assign]
    logging.getLogger("uvicorn.error").addHandler(handler)
    caplog.set_level(logging.INFO, logger="rigshift.server.http")
    try:
        with _connect(g.url) as sock:
            sock.sendall(
                b"POST /admin/measurements HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                b"authorization: Bearer "
                + admin.encode()
                + b"\r\ncontent-length: 100000\r\n\r\n"
                + b"[" * 500
            )
        wait_for(lambda: "client disconnected" in caplog.text, 10, "the disconnect to be logged")
        assert "POST /admin/measurements" in caplog.text
        assert httpx.get(g.url + "/healthz").status_code == 200  # requests after it are answered
    finally:
        logging.getLogger("uvicorn.error").removeHandler(handler)
    assert errors == []
