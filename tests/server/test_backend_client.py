"""The gateway's backend HTTP client against raw sockets that misbehave on purpose."""

from __future__ import annotations

import asyncio

import pytest

from rigshift.server.backend_client import BackendConnectionError, BackendPool

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"8\r\ndata: a\n\r\n8\r\ndata: b\n\r\n0\r\n\r\n"
)


async def serve(handler):  # type: ignore[no-untyped-def]
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/x"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
    )
    return head + await reader.readexactly(length)


def test_keep_alive_reuse_and_chunked_bodies():
    connections = []

    async def handler(reader, writer):  # type: ignore[no-untyped-def]
        connections.append(writer)
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(CHUNKED)
            await writer.drain()

    async def main() -> list[bytes]:
        server, url = await serve(handler)
        pool = BackendPool()
        bodies = []
        for _ in range(3):
            response = await pool.post(url, b'{"a": 1}')
            assert response.status_code == 200 and response.content_type.startswith("text/event-stream")
            bodies.append(await response.read())
        await pool.aclose()
        server.close()
        return bodies

    assert asyncio.run(main()) == [b"data: a\ndata: b\n"] * 3
    assert len(connections) == 1  # one connection, reused


def test_a_reused_connection_the_backend_closed_is_resent_on_a_fresh_one():
    served = []

    async def handler(reader, writer):  # type: ignore[no-untyped-def]
        await read_request(reader)
        served.append(1)
        writer.write(OK)  # no "Connection: close", then closes anyway (as llama-server does)
        await writer.drain()
        writer.close()

    async def main() -> None:
        server, url = await serve(handler)
        pool = BackendPool()
        for _ in range(3):
            response = await pool.post(url, b"{}")
            assert await response.read() == b"{}"
            await asyncio.sleep(0.05)  # let the close arrive, as between real requests
        server.close()

    asyncio.run(main())
    assert len(served) == 3


def test_failures_are_backend_connection_errors():
    async def hang_up(reader, writer):  # type: ignore[no-untyped-def]
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        writer.close()

    async def main() -> None:
        server, url = await serve(hang_up)
        pool = BackendPool(read_timeout=5)
        response = await pool.post(url, b"{}")
        with pytest.raises(BackendConnectionError, match="mid-response"):
            await response.read()
        server.close()
        with pytest.raises(BackendConnectionError, match="cannot connect"):
            await pool.post(url, b"{}")

    asyncio.run(main())


def test_read_timeout():
    async def silent(reader, writer):  # type: ignore[no-untyped-def]
        await read_request(reader)
        await asyncio.sleep(5)

    async def main() -> None:
        server, url = await serve(silent)
        with pytest.raises(BackendConnectionError, match="TimeoutError"):
            await BackendPool(read_timeout=0.2).post(url, b"{}")
        server.close()

    asyncio.run(main())
