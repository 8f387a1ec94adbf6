"""The Responses API's use-cases: create a response, read it back, delete it, list its input.

A response runs as a chat completions request through the gateway's own path (`Gateway.serve`):
the same model permissions, rate limits, quota reservations, retries, metering and SSE metering
as chat, billed under the endpoint "responses". This service adds only what the Responses API
has and chat has not: the conversation kept per tenant (`store`, `previous_response_id`) and
the Response object and events (`responses_events`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio.to_thread
from starlette.responses import Response

from rigshift.server.errors import ApiError, NotFound, error_response, openai_error
from rigshift.server.gateway import Gateway
from rigshift.server.responses_events import ChatStreamTranslator, ResponseDraft, from_chat_completion
from rigshift.server.responses_request import chat_body, chat_messages, new_id, read_request
from rigshift.server.services.keys import ApiKey
from rigshift.server.sse import PassThroughStream
from rigshift.server.stores.responses import ResponseStore, StoredResponse
from rigshift.server.stores.usage_writer import UsageWriter

# The chat request's fields a gateway refusal may name, as this route's client spelled them.
_CHAT_TO_RESPONSES = {"max_tokens": "max_output_tokens", "messages": "input"}


@dataclass
class ResponsesService:
    gateway: Gateway
    store: ResponseStore
    clock: Callable[[], float]
    writer: UsageWriter[StoredResponse] = field(init=False)

    def __post_init__(self) -> None:
        # Committed like usage records (inline on SQLite, group commit on a thread elsewhere):
        # a worker thread per save would wait for the GIL at every SQLite call under load.
        self.writer = UsageWriter(self.store)

    async def stop(self) -> None:
        await self.writer.drain()

    async def create(self, key: ApiKey, body: Any, started: float) -> Response:
        """Answer one `POST /v1/responses` body of `key` (JSON, or Responses events when streamed)."""
        try:
            request = read_request(body)
            inputs = [*await self._history(key, request.previous_response_id), *request.items]
        except ApiError as error:
            return error_response(error)
        chat = chat_body(request, chat_messages(request.instructions, inputs))
        answer = await self.gateway.serve(
            key, chat, json.dumps(chat).encode(), "chat", started, metered_as="responses"
        )
        if answer.status_code >= 400:
            return _as_responses_error(answer)
        draft = ResponseDraft(new_id("resp_"), self.clock(), request)
        if isinstance(answer, PassThroughStream):
            return PassThroughStream(self._events(key, draft, inputs, answer.body_iterator))
        try:
            completion = json.loads(bytes(answer.body))
        except ValueError:
            return openai_error(
                502, "the backend's answer was not JSON", type="server_error", code="bad_backend_reply"
            )
        response = from_chat_completion(draft, completion, self.clock())
        if request.store:
            try:
                await self._save(key, draft, inputs, response)
            except Exception as error:  # the generation is billed; an unsaved id must not be handed out
                return openai_error(
                    503,
                    f"the response could not be stored: {error}",
                    type="server_error",
                    code="response_store_unavailable",
                    retry_after="1",
                )
        return Response(json.dumps(response), media_type="application/json")

    async def get(self, key: ApiKey, response_id: str) -> dict[str, Any]:
        return (await self._stored(key, response_id)).response

    async def delete(self, key: ApiKey, response_id: str) -> dict[str, Any]:
        if not await anyio.to_thread.run_sync(self.store.delete, key.id, response_id):
            raise _not_found(response_id)
        return {"id": response_id, "object": "response", "deleted": True}

    async def input_items(
        self,
        key: ApiKey,
        response_id: str,
        *,
        limit: int = 20,
        order: Literal["asc", "desc"] = "desc",
        after: str | None = None,
    ) -> dict[str, Any]:
        """The input items the response was generated from (earlier turns included), paged as
        OpenAI pages lists: `limit`, `order` (newest first by default), `after` an item id."""
        items = (await self._stored(key, response_id)).input_items
        if order == "desc":
            items = items[::-1]
        if after is not None:
            ids = [item["id"] for item in items]
            if after not in ids:
                raise NotFound(f"no input item {after!r} in response {response_id!r}", param="after")
            items = items[ids.index(after) + 1 :]
        page = items[:limit]
        first, last = (page[0]["id"], page[-1]["id"]) if page else (None, None)
        return {
            "object": "list",
            "data": page,
            "first_id": first,
            "last_id": last,
            "has_more": len(items) > limit,
        }

    async def _history(self, key: ApiKey, previous_id: str | None) -> list[dict[str, Any]]:
        """The conversation a `previous_response_id` continues: its input and its output."""
        if previous_id is None:
            return []
        previous = await self._get(key.id, previous_id)
        if previous is None:
            raise NotFound(
                f"Previous response with id {previous_id!r} not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        return [*previous.input_items, *previous.response["output"]]

    async def _stored(self, key: ApiKey, response_id: str) -> StoredResponse:
        stored = await self._get(key.id, response_id)
        if stored is None:
            raise _not_found(response_id)
        return stored

    async def _save(
        self, key: ApiKey, draft: ResponseDraft, inputs: list[dict[str, Any]], response: dict[str, Any]
    ) -> None:
        stored = StoredResponse(
            id=draft.id,
            key_id=key.id,
            created_at=draft.created_at,
            previous_response_id=draft.request.previous_response_id,
            response=response,
            input_items=inputs,
        )
        await self.writer.write(stored)

    async def _get(self, key_id: str, response_id: str) -> StoredResponse | None:
        if self.store.reads_on_loop:
            return self.store.get(key_id, response_id)
        return await anyio.to_thread.run_sync(self.store.get, key_id, response_id)

    async def _events(
        self,
        key: ApiKey,
        draft: ResponseDraft,
        inputs: list[dict[str, Any]],
        chunks: AsyncIterator[bytes],
    ) -> AsyncIterator[bytes]:
        """The chat stream as Responses events. The gateway's stream has metered the request when
        it ends; the response is stored before `response.completed`, so a client that continues
        from it at once finds it."""
        translator = ChatStreamTranslator(draft)
        opening = translator.opening()
        try:
            async for chunk in chunks:
                out = opening + translator.feed(chunk)
                opening = b""
                if out:
                    yield out
            tail = opening + translator.flush()
            response = translator.result(self.clock())
            if response["status"] != "failed" and draft.request.store:
                try:
                    await self._save(key, draft, inputs, response)
                except Exception as error:  # the client must not continue from an id that was not kept
                    translator.error = f"the response could not be stored: {error}"
                    response = translator.result(self.clock())
            yield tail + translator.closing(response)
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]  # the gateway's stream: releases its slot


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id {response_id!r} not found.", param="response_id", code="not_found")


def _as_responses_error(answer: Response) -> Response:
    """A gateway refusal of the chat request, naming this route's fields (`max_output_tokens`)."""
    try:
        payload = json.loads(bytes(answer.body))
    except ValueError:
        return answer
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict) or error.get("param") not in _CHAT_TO_RESPONSES:
        return answer
    chat_name = error["param"]
    error["param"] = _CHAT_TO_RESPONSES[chat_name]
    error["message"] = str(error.get("message", "")).replace(chat_name, error["param"])
    retry_after = answer.headers.get("retry-after")
    return Response(
        json.dumps(payload),
        status_code=answer.status_code,
        media_type="application/json",
        headers={"Retry-After": retry_after} if retry_after else None,
    )
