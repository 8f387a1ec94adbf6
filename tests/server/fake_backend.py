"""A small OpenAI-compatible backend for tests and benchmarks (no model, no GPU).

It answers like llama-server: `usage` in non-streamed replies, SSE chunks then a usage chunk
when `stream_options.include_usage` is set, then `data: [DONE]`. Like llama-server, it obeys
`n_predict` before `max_completion_tokens` before `max_tokens`, and answers `n` (or `n_cmpl`)
choices with the usage of the first only when not streamed, one usage chunk per choice when
streamed. Knobs let a test make it slow, refuse work (503), or count what it saw.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class FakeBackendState:
    name: str = "fake"
    words: tuple[str, ...] = ("hello", " from", " the", " fake", " backend")
    delay_s: float = 0.0  # before the first byte
    # Set: each request waits here until the event is set, counted in `held` meanwhile, so a test
    # can know requests are in flight (wait for `held`) and decide when they finish (set it).
    hold: threading.Event | None = None
    held: int = 0
    word_delay_s: float = 0.0  # between streamed words
    fail_status: int | None = None  # answer every request with this status
    # Answer requests whose body contains this text with `poison_status` (a request-caused error,
    # like llama-server's 500 for a body its JSON parser rejects).
    poison: str | None = None
    poison_status: int = 500
    context: int = 4096
    crash_after_words: int | None = None  # drop the connection mid-stream, as a crashed backend does
    report_usage: bool = True  # False: no `usage` anywhere, like backends that do not meter
    tokenizer: bool = True  # serve /tokenize and /apply-template like llama-server
    tokenize_delay_s: float = 0.0  # /tokenize and /apply-template answer this late
    # Tokens a chat template adds (a system preamble): in the chat prompt, not in its messages.
    template_tokens: int = 0
    requests: int = 0
    tokenize_requests: int = 0
    bodies: list[dict[str, object]] = field(default_factory=list)


TEMPLATE_TOKEN = "\x00"  # one token of the fake chat template's preamble


def prompt_text(body: dict[str, object], template_tokens: int = 0) -> str:
    """The text the fake "templates" a request into: its messages, prompt or input as JSON text
    (chat messages after `template_tokens` preamble tokens)."""
    prompt = body.get("messages") or body.get("prompt") or body.get("input") or ""
    text = prompt if isinstance(prompt, str) else json.dumps(prompt)
    return TEMPLATE_TOKEN * template_tokens + text if body.get("messages") else text


def fake_token_count(text: str) -> int:
    plain = text.replace(TEMPLATE_TOKEN, "")
    return len(plain) // 4 + 1 + text.count(TEMPLATE_TOKEN)


def _limit(body: dict[str, object]) -> int | None:
    for name in ("n_predict", "max_completion_tokens", "max_tokens"):  # llama-server's order
        value = body.get(name)
        if isinstance(value, int):
            return value
    return None


def create_fake_backend(state: FakeBackendState | None = None) -> Starlette:
    state = state or FakeBackendState()

    async def common(request: Request) -> tuple[dict[str, object], Response | None]:
        raw = await request.body()
        body = json.loads(raw)
        state.requests += 1
        state.bodies.append(body)
        if state.poison is not None and state.poison.encode() in raw:
            return body, JSONResponse(
                {"error": {"code": 500, "message": "[json.exception.parse_error]", "type": "server_error"}},
                status_code=state.poison_status,
            )
        if state.delay_s:
            await asyncio.sleep(state.delay_s)
        if state.hold is not None:
            state.held += 1
            try:
                # Bounded: a test that never sets the event fails on its own, not by a hung backend.
                deadline = time.monotonic() + 60
                while not state.hold.is_set() and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
            finally:
                state.held -= 1
        if state.fail_status:
            return body, JSONResponse(
                {"error": {"message": "failing on purpose"}}, status_code=state.fail_status
            )
        prompt = json.dumps(body.get("messages") or body.get("prompt") or body.get("input") or "")
        if len(prompt) > state.context:
            return body, JSONResponse(
                {
                    "error": {
                        "code": 400,
                        "message": "the request exceeds the available context size",
                        "type": "exceed_context_size_error",
                    }
                },
                status_code=400,
            )
        return body, None

    async def generate(request: Request) -> Response:
        body, failure = await common(request)
        if failure is not None:
            return failure
        chat = request.url.path.endswith("/chat/completions")
        prompt_tokens = fake_token_count(prompt_text(body, state.template_tokens))
        limit = _limit(body)
        words = state.words[: len(state.words) if limit is None else limit]
        # Like llama-server: "length" when the limit cut the answer short.
        finish = "length" if len(words) < len(state.words) else "stop"
        n = int(body.get("n_cmpl") or body.get("n") or 1)  # type: ignore[call-overload]
        created = int(time.time())
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(words),
            "total_tokens": prompt_tokens + len(words),
        }
        kind = "chat.completion" if chat else "text_completion"
        if not body.get("stream"):
            text = "".join(words)
            choices: list[dict[str, object]] = [
                {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
                if chat
                else {"index": i, "text": text, "finish_reason": finish, "logprobs": None}
                for i in range(n)
            ]
            return JSONResponse(
                {
                    "id": "fake-1",
                    "object": kind,
                    "created": created,
                    "model": body["model"],
                    "choices": choices,  # n of them, with the usage of the first (as llama-server)
                    **({"usage": usage} if state.report_usage else {}),
                }
            )

        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage")

        async def events() -> AsyncIterator[bytes]:
            for choice in range(n):
                async for event in one_choice(choice):
                    yield event
            yield b"data: [DONE]\n\n"

        async def one_choice(index: int) -> AsyncIterator[bytes]:
            for i, word in enumerate(words):
                if state.crash_after_words is not None and i >= state.crash_after_words:
                    raise ConnectionAbortedError("the fake backend crashes mid-stream")
                if i and state.word_delay_s:
                    await asyncio.sleep(state.word_delay_s)
                last = i == len(words) - 1
                delta: dict[str, object] = (
                    {"index": index, "delta": {"content": word}, "finish_reason": finish if last else None}
                    if chat
                    else {
                        "index": index,
                        "text": word,
                        "finish_reason": finish if last else None,
                        "logprobs": None,
                    }
                )
                chunk = {
                    "id": "fake-1",
                    "object": kind + (".chunk" if chat else ""),
                    "created": created,
                    "model": body["model"],
                    "choices": [delta],
                }
                yield f"data: {json.dumps(chunk)}\n\n".encode()
            if include_usage and state.report_usage:
                tail = {
                    "id": "fake-1",
                    "object": kind + ".chunk",
                    "created": created,
                    "model": body["model"],
                    "choices": [],
                    "usage": usage,
                }
                yield f"data: {json.dumps(tail)}\n\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream")

    async def embeddings(request: Request) -> Response:
        body, failure = await common(request)
        if failure is not None:
            return failure
        inputs = body.get("input")
        items = inputs if isinstance(inputs, list) else [inputs]
        tokens = sum(len(str(i)) // 4 + 1 for i in items)
        return JSONResponse(
            {
                "object": "list",
                "model": body["model"],
                "data": [
                    {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
                    for i in range(len(items))
                ],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def rerank(request: Request) -> Response:
        body, failure = await common(request)
        if failure is not None:
            return failure
        documents = [str(d) for d in body.get("documents") or []]  # type: ignore[attr-defined]
        tokens = sum(fake_token_count(d) for d in [str(body.get("query")), *documents])
        # Longer documents rank higher: a deterministic order a test can check.
        results = sorted(
            ({"index": i, "relevance_score": float(len(d))} for i, d in enumerate(documents)),
            key=lambda r: -float(r["relevance_score"]),  # type: ignore[arg-type]
        )[: int(body.get("top_n") or len(documents))]  # type: ignore[call-overload]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return JSONResponse({"model": body["model"], "object": "list", "usage": usage, "results": results})

    async def messages(request: Request) -> Response:
        """Anthropic's Messages API in llama-server's shapes (usage in message_start/_delta)."""
        body, failure = await common(request)
        if failure is not None:
            return failure
        prompt = fake_token_count(json.dumps(body.get("messages")))
        words = state.words[: _limit(body)]
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": "msg-fake",
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": [{"type": "text", "text": "".join(words)}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": prompt, "output_tokens": len(words)},
                }
            )

        def event(kind: str, data: dict[str, object]) -> bytes:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

        async def events() -> AsyncIterator[bytes]:
            message = {"id": "msg-fake", "type": "message", "role": "assistant", "model": body["model"]}
            message |= {"content": [], "stop_reason": None, "stop_sequence": None}
            yield event(
                "message_start",
                {"message": {**message, "usage": {"input_tokens": prompt, "output_tokens": 0}}},
            )
            yield event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
            for i, word in enumerate(words):
                if state.crash_after_words is not None and i >= state.crash_after_words:
                    raise ConnectionAbortedError("the fake backend crashes mid-stream")
                yield event(
                    "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": word}}
                )
            yield event("content_block_stop", {"index": 0})
            delta = {"stop_reason": "end_turn", "stop_sequence": None}
            yield event("message_delta", {"delta": delta, "usage": {"output_tokens": len(words)}})
            yield event("message_stop", {})

        return StreamingResponse(events(), media_type="text/event-stream")

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    # llama-server's tokenizer endpoints, consistent with the counts in `usage` above.
    async def apply_template(request: Request) -> Response:
        state.tokenize_requests += 1
        await asyncio.sleep(state.tokenize_delay_s)
        return JSONResponse({"prompt": prompt_text(json.loads(await request.body()), state.template_tokens)})

    async def tokenize(request: Request) -> Response:
        state.tokenize_requests += 1
        await asyncio.sleep(state.tokenize_delay_s)
        content = json.loads(await request.body())["content"]
        return JSONResponse({"tokens": list(range(fake_token_count(content)))})

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", generate, methods=["POST"]),
            Route("/v1/completions", generate, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/v1/rerank", rerank, methods=["POST"]),
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/health", health),
            *(
                [
                    Route("/apply-template", apply_template, methods=["POST"]),
                    Route("/tokenize", tokenize, methods=["POST"]),
                ]
                if state.tokenizer
                else []
            ),
        ]
    )
    app.state.fake = state
    return app
