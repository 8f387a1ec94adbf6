"""`ControlPlaneClient`: the one HTTP client of a control plane, and its one error mapping.

Every caller outside the server (the management commands, `rigshift bench --rig`, the agent's
join, telemetry and power caps, the model cache) goes through it, so a failure means the same
everywhere:

- no answer (refused connection, timeout, reset): `BackendError`, exit 4;
- a 4xx: `Refused` (an `InputError`, exit 2): the request was the caller's, and the server's own
  message (OpenAI's `{"error": {"message", "code"}}`) is shown;
- a 5xx, or a success whose body is not JSON: `BackendError`, exit 4.

The transport is injected (`transport=`): tests pass an `httpx.MockTransport` or the app itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from rigshift.errors import BackendError, InputError, Problem


class Refused(InputError):
    """The control plane refused a request (HTTP 4xx): the caller's input or credentials. Exit 2."""

    def __init__(self, source: str, status: int, message: str, code: str | None = None):
        super().__init__(Problem(f"HTTP {status}: {message}", source))
        self.http_status = status
        self.code = code


def _refusal(response: httpx.Response) -> tuple[str, str | None]:
    """The server's message and code, from OpenAI's error shape (or the body's start)."""
    try:
        refusal = response.json()["error"]
        return str(refusal["message"]), refusal.get("code")
    except (ValueError, KeyError, TypeError):
        return response.text[:300], None


class ControlPlaneClient:
    """A control plane at `url`, authenticated with `token` (an admin key or a rig's join token)."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ):
        self.url = url.rstrip("/")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(base_url=self.url, headers=headers, transport=transport, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ControlPlaneClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: str | bytes | None = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """The JSON answer to one request (None for an empty one, e.g. 204)."""
        if json_body is not None:
            content = json.dumps(json_body)
        try:
            response = self._client.request(
                method,
                path,
                content=content,
                headers={"content-type": "application/json"} if content is not None else None,
                params={k: v for k, v in (params or {}).items() if v is not None},
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as error:
            raise BackendError(f"cannot reach the control plane at {self.url}: {error}") from None
        self._check(response, path)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise BackendError(f"{self.url}{path}: the answer is not JSON: {response.text[:200]!r}") from None

    def download(self, path: str, destination: Path, *, timeout: float = 60.0) -> None:
        """Stream `path`'s body into `destination` (the caller owns the file, and removes it on
        an error)."""
        try:
            with self._client.stream("GET", path, timeout=timeout, follow_redirects=True) as response:
                if response.status_code >= 400:
                    response.read()
                    self._check(response, path)
                with open(destination, "wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
        except httpx.HTTPError as error:
            raise BackendError(f"cannot fetch {self.url}{path}: {error}") from None

    def _check(self, response: httpx.Response, path: str) -> None:
        if response.status_code < 400:
            return
        message, code = _refusal(response)
        if response.status_code < 500:
            raise Refused(f"{self.url}{path}", response.status_code, message, code)
        raise BackendError(f"{self.url}{path}: HTTP {response.status_code}: {message}")
