"""Run an ASGI app with uvicorn: in the foreground (`rigshift server`) or on a thread (tests, `up`)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn

from rigshift.errors import EnvironmentProblem
from rigshift.server.http_limits import BoundedHttpToolsProtocol


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class BackgroundServer:
    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is created that a failed start would leave
    behind (the first admin key): a port in use is a clear error, not uvicorn's exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise EnvironmentProblem(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Any, host: str, port: int, **overrides: Any) -> uvicorn.Config:
    """The one uvicorn configuration `rigshift server`, `up` and the tests run: request heads
    bounded in size and time, stalled bodies closed (http_limits.py)."""
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
        "lifespan": "on",
        "http": BoundedHttpToolsProtocol,
        **overrides,
    }
    return uvicorn.Config(app, **options)


def serve_in_thread(
    app: Any, host: str = "127.0.0.1", port: int | None = None, timeout: float = 20.0
) -> BackgroundServer:
    port = port or free_port(host)
    config = uvicorn_config(app, host, port)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise EnvironmentProblem(f"server on {host}:{port} did not start")
        time.sleep(0.01)
    return BackgroundServer(server, thread, f"http://{host}:{port}")
