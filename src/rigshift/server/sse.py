"""Pass a backend's SSE stream through byte for byte while reading its token counts.

Events are forwarded as the backend wrote them (no JSON re-encoding). Only three things are
looked at: an event carrying `"usage"` (parsed, to meter tokens), the `data: [DONE]` terminator
(held back until the usage record is committed), and content chunks (counted, as a fallback
when the backend reports no usage). If the gateway itself asked for `include_usage`, the extra
usage-only chunk (empty `choices`) is dropped so the client sees exactly what it asked for.

With several outputs (`n` > 1, or a list of prompts), llama-server sends one usage event per
output, each with its output's completion and its prompt: the meter sums the completions and
counts each prompt once (the prompt sum over `n`), and a client that asked for usage gets one
usage chunk with the totals, as OpenAI sends it, instead of one per output.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

DONE = b"data: [DONE]"


@dataclass
class StreamMeter:
    strip_usage_chunk: bool
    n: int = 1  # choices per prompt: each prompt's usage arrives n times
    outputs: int = 1  # usage events expected (choices x prompts)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    content_chunks: int = 0
    done_event: bytes | None = None
    _buffer: bytes = b""
    _prompt_sum: int = 0
    _usage_events: int = 0
    _usage_template: dict[str, object] | None = None  # a usage-only chunk held back (outputs > 1)

    @property
    def usage_complete(self) -> bool:
        """Every output reported its usage (a stream cut earlier has only some)."""
        return self._usage_events >= self.outputs

    def completion_billed(self) -> int:
        """Completion tokens to bill: the reported ones when every output reported, else at least
        the content events passed on (one token each from llama-server)."""
        if self.completion_tokens is not None and self.usage_complete:
            return self.completion_tokens
        return max(self.completion_tokens or 0, self.content_chunks)

    def merged_usage_event(self) -> bytes | None:
        """The one usage chunk with the totals, when several were held back; else None."""
        if self._usage_template is None or self.prompt_tokens is None:
            return None
        completion = self.completion_tokens or 0
        usage = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }
        return b"data: " + json.dumps({**self._usage_template, "usage": usage}).encode() + b"\n\n"

    def feed(self, chunk: bytes) -> bytes:
        """Bytes to forward now for this backend chunk (complete events only)."""
        self._buffer += chunk
        if b"\n\n" not in self._buffer:
            return b""
        *events, self._buffer = self._buffer.split(b"\n\n")
        out = []
        for event in events:
            kept = self._event(event)
            if kept is not None:
                out.append(kept + b"\n\n")
        return b"".join(out)

    def flush(self) -> bytes:
        """Whatever incomplete tail is left when the backend closes."""
        tail, self._buffer = self._buffer, b""
        if not tail.strip():
            return b""
        kept = self._event(tail)
        return b"" if kept is None else kept

    def _event(self, event: bytes) -> bytes | None:
        stripped = event.strip()
        if stripped.startswith(DONE):
            self.done_event = event + b"\n\n"
            return None
        if b'"usage"' in event:
            payload = json_payload(stripped)
            usage = payload.get("usage") if isinstance(payload, dict) else None
            if isinstance(usage, dict):
                self._count(usage)
                usage_only = isinstance(payload, dict) and not payload.get("choices")
                if usage_only and self.strip_usage_chunk:
                    return None
                if usage_only and self.outputs > 1:
                    self._usage_template = payload  # type: ignore[assignment]
                    return None
        if b'"content"' in event or b'"text"' in event:
            self.content_chunks += 1
        return event

    def _count(self, usage: dict[str, object]) -> None:
        self._usage_events += 1
        prompt = _int(usage.get("prompt_tokens"), None)
        if prompt is not None:
            self._prompt_sum += prompt
            self.prompt_tokens = -(-self._prompt_sum // max(1, self.n))  # each prompt once
        completion = _int(usage.get("completion_tokens"), None)
        if completion is not None:
            self.completion_tokens = (self.completion_tokens or 0) + completion


def json_payload(event: bytes) -> object:
    data = b"".join(line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:"))
    try:
        return json.loads(data)
    except ValueError:
        return None


def _int(value: object, default: int | None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


class PassThroughStream(Response):
    """An SSE response that sends each piece as it comes, with one watcher for client hang-ups.

    Starlette's StreamingResponse runs an anyio task group per response (under uvicorn's ASGI
    2.3) to notice disconnects; at 32 concurrent streams that bookkeeping costs more than the
    forwarding. Here one plain task waits on `receive()`; when the client has gone, the body
    iterator is closed, which releases the replica slot and closes the backend connection.
    """

    media_type = "text/event-stream"

    def __init__(self, body: AsyncIterator[bytes]):
        self.status_code = 200
        self.background = None
        self.body_iterator = body
        # Set directly: Response.__init__ would add `content-length: 0` for an empty body.
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = asyncio.ensure_future(receive())
        try:
            await send(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            async for chunk in self.body_iterator:
                if watcher.done():  # http.disconnect: nobody is reading any more
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            else:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            await self.body_iterator.aclose()  # type: ignore[attr-defined]
