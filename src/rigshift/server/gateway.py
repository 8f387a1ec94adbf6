"""The OpenAI-compatible gateway: authenticate, limit, route, forward, meter.

Requests are forwarded as raw bytes over pooled keep-alive connections per replica
(`backend_client.BackendPool`), never through pydantic models, so the gateway adds well under a millisecond. A replica
that fails before the first byte (refused connection, 5xx, reset) is reported to the data plane
and the request moves to the next best replica; once bytes have reached the client, it cannot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from rigshift.run.contracts import ReplicaDirectory, ReplicaEndpoint
from rigshift.server.adapter_routing import FINE_TUNED_PREFIX, AdapterRouting, with_lora
from rigshift.server.anthropic_shape import anthropic_stream_error
from rigshift.server.backend_client import BackendConnectionError, BackendPool, BackendResponse
from rigshift.server.capabilities import capability_refusal
from rigshift.server.endpoints import (
    GENERATING,
    USAGE_ON_REQUEST,
    counting_request,
    reply_usage,
    stream_meter,
)
from rigshift.server.errors import ApiError, error_response, normalise_backend_error, openai_error
from rigshift.server.fan_out import fetch_outputs
from rigshift.server.limits import QuotaTracker, RateLimiter, Reservation, period_bounds, retry_after_header
from rigshift.server.login_throttle import LoginThrottle, client_address
from rigshift.server.metering import energy_wh
from rigshift.server.metrics import Metrics
from rigshift.server.models_api import adapter_entry, list_entries, retrieve_entry
from rigshift.server.openai_body import GatewayFields, read_fields
from rigshift.server.prompt_tokens import PromptCount, count_completion, count_prompt, estimate_tokens
from rigshift.server.quota_budget import completion_room, max_tokens_problem, plan_budget, quota_wait_s
from rigshift.server.replica_picker import Router
from rigshift.server.request_fields import one_length_field
from rigshift.server.served_rate import ServedRate
from rigshift.server.services.keys import ApiKey, KeysService
from rigshift.server.settings import ServerSettings
from rigshift.server.sse import PassThroughStream
from rigshift.server.stores.usage import UsageRecord, UsageStore
from rigshift.server.stores.usage_writer import UsageWriter
from rigshift.server.strict_json import loads_strict
from rigshift.server.template_overhead import TemplateOverhead

ENDPOINT_PATHS = {
    "chat": "/v1/chat/completions",
    "completions": "/v1/completions",
    "embeddings": "/v1/embeddings",
    "rerank": "/v1/rerank",
    "messages": "/v1/messages",
}
# A backend that answers at all is alive: its status is about the request, not the replica's
# health. 502/503/504 (loading, no free slot, a proxy in front timing out) are worth another
# replica; a 500 is usually the request itself, and retrying it would hand the same poison to
# every replica in turn.
_TRY_ANOTHER_STATUS = {502, 503, 504}


class _BackendFailed(Exception):
    """This replica did not answer (refused, reset, closed) before the client saw anything."""


class _TryAnother(Exception):
    """This replica answered with a status worth another replica; it stays in rotation."""


def approx_prompt_tokens(body: dict[str, object]) -> int:
    """A cheap lower-ish estimate (~4 bytes per token) for the context check before routing.

    It only rejects prompts that cannot fit by a wide margin; the backend's own 400 (which the
    gateway passes on in OpenAI's shape) catches the rest exactly.
    """
    size = 0
    messages = body.get("messages")
    if isinstance(messages, list):
        for m in messages:
            content = m.get("content") if isinstance(m, dict) else None
            if isinstance(content, str):
                size += len(content.encode())
            elif isinstance(content, list):
                size += sum(
                    len(str(part.get("text", "")).encode()) for part in content if isinstance(part, dict)
                )
    for name in ("prompt", "input"):
        value = body.get(name)
        if isinstance(value, str):
            size += len(value.encode())
        elif isinstance(value, list):
            size += sum(
                len(v.encode()) if isinstance(v, str) else len(v) for v in value if isinstance(v, str | list)
            )
    return size // 4


@dataclass
class Gateway:
    directory: ReplicaDirectory
    keys: KeysService  # authenticates, with its cache
    usage: UsageStore
    metrics: Metrics
    settings: ServerSettings
    clock: Callable[[], float] = time.time
    router: Router = field(init=False)
    writer: UsageWriter[UsageRecord] = field(init=False)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    quotas: QuotaTracker = field(default_factory=QuotaTracker)
    served: ServedRate = field(default_factory=ServedRate)  # interactive demand, for the energy policy
    backends: BackendPool | None = None
    template: TemplateOverhead = field(default_factory=TemplateOverhead)  # chat templates, measured
    login_throttle: LoginThrottle = field(default_factory=lambda: LoginThrottle(time.monotonic))
    # Told of every metered request, with its time to first byte in seconds (the history).
    on_metered: Callable[[UsageRecord, float], None] = lambda _record, _ttft_s: None
    adapters: AdapterRouting | None = None  # tenants' LoRA adapters (adapter_routing.py)

    def __post_init__(self) -> None:
        self.router = Router(self.directory, self.settings.queue_factor)
        self.writer = UsageWriter(self.usage)

    async def start(self) -> None:
        self.backends = BackendPool(
            connect_timeout=self.settings.connect_timeout_s, read_timeout=self.settings.backend_timeout_s
        )

    async def stop(self) -> None:
        await self.writer.drain()
        if self.backends is not None:
            await self.backends.aclose()

    # --- authentication --------------------------------------------------------------------

    async def authenticate(self, request: Request) -> ApiKey | None:
        """The key of the request's `Authorization: Bearer` header (cached by the keys service).

        A client whose presented keys keep failing is throttled (login_throttle.py): every key
        check goes through here, the OpenAI routes' as well as the admin and tenant API's.
        """
        header = request.headers.get("authorization")
        if header is None and (api_key := request.headers.get("x-api-key")) is not None:
            header = "Bearer " + api_key  # Anthropic's SDK sends the key there
        if header is None:
            return None
        client = client_address(request.client.host if request.client else None)
        secret = header[7:].strip() if header.lower().startswith("bearer ") else None
        self.login_throttle.check(client, secret)  # raises LoginThrottled (429 with Retry-After)
        key = await self.keys.authenticate(secret) if secret else None
        if key is None or not secret:
            self.login_throttle.failed(client)
        else:
            self.login_throttle.succeeded(client, secret)
        return key

    async def _authorised(self, request: Request) -> ApiKey | Response:
        """The request's key, or the response that refuses it (401, or 429 while throttled)."""
        try:
            key = await self.authenticate(request)
        except ApiError as error:
            return error_response(error)
        return _unauthorized() if key is None else key

    # --- /v1/models ------------------------------------------------------------------------

    async def list_models(self, request: Request) -> Response:
        key = await self._authorised(request)
        if isinstance(key, Response):
            return key
        data = list_entries(self.directory, key, int(self.clock()))
        data += [adapter_entry(a) for a in (self.adapters.owned(key) if self.adapters is not None else ())]
        return Response(json.dumps({"object": "list", "data": data}), media_type="application/json")

    async def retrieve_model(self, request: Request, model: str) -> Response:
        key = await self._authorised(request)
        if isinstance(key, Response):
            return key
        entry = retrieve_entry(self.directory, key, model, int(self.clock()))
        adapter = self.adapters.for_key(key, model) if entry is None and self.adapters is not None else None
        if adapter is not None:  # the owner's adapter; another tenant's is the same 404 as unknown
            entry = adapter_entry(adapter)
        if entry is None:
            return _model_not_found(model)
        return Response(json.dumps(entry), media_type="application/json")

    # --- completions, chat, embeddings ----------------------------------------------------

    def metric_model(self, model: str) -> str:
        """The model as a metric label: only names the directory knows (client input is unbounded)."""
        return model if model in self.directory.models() else "unknown"

    async def handle(self, request: Request, endpoint: str) -> Response:
        started = time.perf_counter()
        key = await self._authorised(request)
        if isinstance(key, Response):
            return key
        raw = await request.body()
        try:
            # Strict: NaN, 1e400, lone surrogates or deep nesting would make the backend answer 500.
            body = loads_strict(raw, max_depth=self.settings.max_json_depth)
        except ApiError as error:
            return error_response(error)
        return await self.serve(key, body, raw, endpoint, started)

    async def serve(
        self,
        key: ApiKey,
        body: Any,
        raw: bytes,
        endpoint: str,
        started: float,
        *,
        metered_as: str = "",
    ) -> Response:
        """Check, limit, route, forward and meter one parsed request body of `key`.

        `raw` is `body` as bytes; `metered_as` names the endpoint in usage records and metrics when
        it is not `endpoint` (`/v1/responses` runs here as a chat request, billed as "responses").
        """
        try:
            fields = read_fields(body, endpoint)
        except ApiError as error:
            return error_response(error)
        model = fields.model
        adapter = self.adapters.for_key(key, model) if self.adapters is not None else None
        if adapter is None and model.startswith(FINE_TUNED_PREFIX):
            return _model_not_found(model)  # unknown, or another tenant's: the same answer
        if not key.allows(model) and not (adapter is not None and key.allows(adapter.base_model)):
            return openai_error(
                403,
                f"this API key may not use model {model!r}",
                type="permission_error",
                code="model_not_allowed",
            )
        served = adapter.base_model if adapter is not None else model  # an adapter has its base's
        lacking = capability_refusal(self.directory, endpoint, body, served)
        if lacking is not None:
            self.metrics.requests.labels(model, endpoint, "400").inc()
            return error_response(lacking)
        rejected = await self._check_limits(key)
        if rejected is not None:
            label = metered_as or endpoint
            self.metrics.requests.labels(self.metric_model(model), label, str(rejected.status_code)).inc()
            return rejected
        strip_usage = False
        if fields.stream and not fields.wants_usage and endpoint in USAGE_ON_REQUEST:
            # Ask the backend for usage so metering is exact; the extra chunk is removed again.
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
            strip_usage = True
        if one_length_field(body, fields.max_tokens) or strip_usage:
            raw = json.dumps(body).encode()
        call = _Call(key, endpoint, model, body, raw, started, fields, metered_as=metered_as)
        if adapter is not None:
            call.route_model, call.adapter = adapter.base_model, adapter.id
        try:
            return await self._route(call, fields, strip_usage)
        finally:
            if call.reservation is not None and not call.stream_owns_reservation:
                self.quotas.settle(call.reservation, 0)  # no-op once metered

    async def _route(self, call: _Call, fields: GatewayFields, strip_usage: bool) -> Response:
        model, endpoint = call.route_model or call.model, call.endpoint
        label = call.metered_as or endpoint  # the metrics' endpoint
        prompt_estimate = approx_prompt_tokens(call.body)
        tried: list[str] = []
        last_error = "no replica answered"
        lacking = 0  # replicas skipped because they do not load the adapter yet
        for _attempt in range(max(1, self.settings.max_attempts)):
            choice = self.router.choose(model, exclude=tried)
            if choice.outcome == "unknown_model":
                return _model_not_found(model)
            if choice.outcome in ("no_ready_replica", "saturated") or choice.replica is None:
                if tried:
                    break
                status = 429 if choice.outcome == "saturated" else 503
                self.metrics.requests.labels(model, label, str(status)).inc()
                return openai_error(
                    status,
                    "every replica of this model is busy; retry shortly"
                    if status == 429
                    else "no replica of this model is ready yet; retry shortly",
                    type="rate_limit_exceeded" if status == 429 else "server_error",
                    code="replicas_saturated" if status == 429 else "no_ready_replica",
                    retry_after=retry_after_header(self.settings.saturated_retry_after_s),
                )
            replica = choice.replica
            raw = with_lora(call.body, call.raw, replica, call.adapter)
            if raw is None:  # this replica does not load the adapter yet (being replaced)
                tried.append(replica.replica_id)
                last_error = f"no ready replica loads {call.model!r} yet"
                lacking += 1
                continue
            call.raw = raw
            if prompt_estimate > replica.context:
                return openai_error(
                    400,
                    f"this model's context is {replica.context} tokens; the prompt is about "
                    f"{prompt_estimate} tokens",
                    code="context_length_exceeded",
                    param="messages" if endpoint == "chat" else "prompt",
                )
            unservable = _unservable(fields, replica)
            if unservable is not None:
                return error_response(unservable)
            if call.key.token_quota is not None and call.reservation is None:
                refused = await self._reserve(call, replica, fields)
                if refused is not None:
                    self.metrics.requests.labels(model, label, "429").inc()
                    return refused
            concurrent = self.router.acquire(replica.replica_id)
            try:
                if fields.stream:
                    return await self._stream(call, replica, strip_usage, concurrent)
                return await self._forward(call, replica, concurrent)
            except _BackendFailed as failure:
                # No answer at all: the data plane's health check decides whether it is down.
                self.router.release(replica.replica_id)
                last_error = str(failure)
                tried.append(replica.replica_id)
                self.metrics.retries.labels(model).inc()
                self.directory.report_failure(replica.replica_id, last_error)
            except _TryAnother as busy:
                self.router.release(replica.replica_id)
                last_error = str(busy)
                tried.append(replica.replica_id)
                self.metrics.retries.labels(model).inc()
        loading = 0 < lacking == len(tried)  # a new adapter whose replicas are still restarting
        status = 503 if loading else 502
        self.metrics.requests.labels(model, label, str(status)).inc()
        return openai_error(
            status,
            f"the model {call.model!r} is being loaded; retry shortly"
            if loading
            else f"no replica could serve the request: {last_error}",
            type="server_error",
            code="adapter_loading" if loading else "backend_unavailable",
            retry_after=retry_after_header(self.settings.saturated_retry_after_s) if loading else None,
        )

    async def _check_limits(self, key: ApiKey) -> Response | None:
        now = self.clock()
        wait = self.limiter.acquire(key.id, key.rate_limit_rpm, now)
        if wait > 0:
            return openai_error(
                429,
                "rate limit reached for this API key",
                type="requests",
                code="rate_limit_exceeded",
                retry_after=retry_after_header(wait),
            )
        if key.token_quota is not None:
            start, end = period_bounds(now, key.quota_period)
            if not self.quotas.known(key.id, start):
                used = await anyio.to_thread.run_sync(self.usage.tokens_since, key.id, start)
                self.quotas.seed(key.id, start, used)
            if self.quotas.exceeded(key.id, start, key.token_quota):
                return self._quota_refusal(key, self._quota_wait(key, start, end - now, 1))
        return None

    def _quota_wait(self, key: ApiKey, start: float, period_left_s: float, need: int) -> float:
        assert key.token_quota is not None
        used = self.quotas.used(key.id, start)
        return quota_wait_s(quota=key.token_quota, used=used, need=need, period_left_s=period_left_s)

    def _quota_refusal(self, key: ApiKey, wait_s: float, detail: str = "used up") -> Response:
        return openai_error(
            429,
            f"token quota of {key.token_quota} per {key.quota_period} {detail}",
            type="insufficient_quota",
            code="insufficient_quota",
            retry_after=retry_after_header(wait_s),
        )

    async def _reserve(self, call: _Call, replica: ReplicaEndpoint, fields: GatewayFields) -> Response | None:
        """Hold the prompt plus what each output can generate (`quota_budget`) before forwarding.

        The forwarded `max_tokens` is always the completion reserved per output, so the request
        cannot use more than it holds; the difference is released when it is settled.
        """
        assert self.backends is not None and call.key.token_quota is not None
        key, quota = call.key, call.key.token_quota
        now = self.clock()
        start, end = period_bounds(now, key.quota_period)
        counted = await count_prompt(
            self.backends,
            [replica],
            *counting_request(call.endpoint, call.body, call.raw),
            fallback="upper",
            template=self.template,
        )
        if not self.quotas.known(key.id, start):  # the period rolled over while counting
            used = await anyio.to_thread.run_sync(self.usage.tokens_since, key.id, start)
            self.quotas.seed(key.id, start, used)
        # From here to `reserve` there is no await: the check and the hold are one step.
        remaining = self.quotas.remaining(key.id, start, quota)
        exact = counted.tokens if counted.source == "tokenized" else None
        if call.endpoint not in GENERATING:
            need = counted.tokens
        else:
            room = completion_room(replica.context, exact, fields.prompts)
            if room < 1:
                return openai_error(
                    400,
                    f"this model's context is {replica.context} tokens; the prompt is {exact} tokens",
                    code="context_length_exceeded",
                    param="messages" if call.endpoint == "chat" else "prompt",
                )
            budget = plan_budget(
                remaining=remaining,
                prompt=counted.tokens,
                room=room,
                outputs=fields.outputs,
                max_tokens=fields.max_tokens,
            )
            if budget is None:
                return self._quota_refusal(
                    key,
                    self._quota_wait(key, start, end - now, counted.tokens + fields.outputs),
                    f"has {max(0, remaining)} tokens left, too few for this prompt",
                )
            need = budget.tokens
            call.body.pop("max_completion_tokens", None)  # llama-server reads it before max_tokens
            call.body["max_tokens"] = budget.completion
            call.raw = json.dumps(call.body).encode()
        if need > remaining:
            return self._quota_refusal(
                key,
                self._quota_wait(key, start, end - now, need),
                f"has {max(0, remaining)} tokens left, too few for this prompt",
            )
        call.reservation = self.quotas.reserve(key.id, start, need)
        if counted.source == "tokenized":
            call.prompt = counted  # exact: reused if the backend never reports usage
        return None

    async def _prompt_for_billing(self, call: _Call, replica: ReplicaEndpoint) -> PromptCount:
        """The prompt's tokens when the backend did not report them: counted, else estimated."""
        if call.prompt is not None:
            return call.prompt
        endpoint, body, raw = counting_request(call.endpoint, call.body, call.raw)
        if self.backends is None:
            return PromptCount(estimate_tokens(body, endpoint, self.template), "estimated")
        others = [
            r
            for r in self.directory.ready_replicas(call.route_model or call.model)
            if r.replica_id != replica.replica_id
        ]
        return await count_prompt(
            self.backends, [replica, *others[:2]], endpoint, body, raw, template=self.template
        )

    async def _fetch(self, call: _Call, replica: ReplicaEndpoint) -> tuple[int, bytes]:
        """(status, body) of a non-streamed request; several outputs run one per backend call
        (`fan_out`), so the usage covers every choice."""
        if call.fields.outputs <= 1 or call.endpoint == "embeddings":
            return await self._fetch_one(replica, call.endpoint, call.raw)
        return await fetch_outputs(
            lambda raw: self._fetch_one(replica, call.endpoint, raw), call.body, call.endpoint, call.fields.n
        )

    async def _fetch_one(self, replica: ReplicaEndpoint, endpoint: str, raw: bytes) -> tuple[int, bytes]:
        response = await self._send(replica, endpoint, raw)
        try:
            return response.status_code, await response.read()
        except BackendConnectionError as error:  # died mid-body: the client has seen nothing yet
            raise _BackendFailed(str(error)) from error

    def _learn_template(self, call: _Call, prompt_tokens: int) -> None:
        """A backend's prompt count of a one-prompt chat request measures the model's template."""
        if call.endpoint == "chat" and prompt_tokens > 0:
            self.template.observe(call.route_model or call.model, call.body, prompt_tokens)

    async def _send(self, replica: ReplicaEndpoint, endpoint: str, raw: bytes) -> BackendResponse:
        assert self.backends is not None, "Gateway.start() was not called"
        try:
            # The pool resends once on a fresh connection when a reused keep-alive one turns out
            # closed (llama-server closes them after streams): housekeeping, not a replica failure.
            response = await self.backends.post(replica.base_url.rstrip("/") + ENDPOINT_PATHS[endpoint], raw)
        except BackendConnectionError as error:
            raise _BackendFailed(str(error)) from error
        if response.status_code in _TRY_ANOTHER_STATUS:
            response.close()
            raise _TryAnother(f"HTTP {response.status_code}")
        return response

    async def _forward(self, call: _Call, replica: ReplicaEndpoint, concurrent: int) -> Response:
        status, content = await self._fetch(call, replica)
        prompt = completion = 0
        source = "backend"
        if status < 400:
            reply: Any = None
            with contextlib.suppress(ValueError):
                reply = json.loads(content)
            usage = reply_usage(reply)
            if usage is not None:
                prompt, completion = usage
                self._learn_template(call, prompt)
            else:  # a backend that reports no usage: the gateway counts with its tokenizer
                counted = await self._prompt_for_billing(call, replica)
                generated = (
                    await count_completion(self.backends, [replica], reply)
                    if self.backends is not None and call.endpoint in GENERATING
                    else PromptCount(0, "tokenized")
                )
                prompt, completion = counted.tokens, generated.tokens
                exact = counted.source == generated.source == "tokenized"
                source = "counted" if exact else "estimated"
        try:
            await self._meter(call, replica, prompt, completion, concurrent, status, source)
        except Exception as error:  # not metered, not delivered: the client may retry, nothing is lost
            return openai_error(
                503,
                f"usage could not be recorded: {error}",
                type="server_error",
                code="usage_store_unavailable",
                retry_after="1",
            )
        finally:
            self.router.release(replica.replica_id)
        if status >= 400:
            return normalise_backend_error(status, content)
        return Response(content, status_code=status, media_type="application/json")

    async def _stream(
        self, call: _Call, replica: ReplicaEndpoint, strip_usage: bool, concurrent: int
    ) -> Response:
        response = await self._send(replica, call.endpoint, call.raw)
        if response.status_code >= 400:
            try:
                content = await response.read()
            except BackendConnectionError as error:
                raise _BackendFailed(str(error)) from error
            self.router.release(replica.replica_id)
            return normalise_backend_error(response.status_code, content)
        chunks = response.chunks()
        try:
            first = await chunks.__anext__()
        except StopAsyncIteration:
            response.close()
            raise _BackendFailed("stream closed before the first byte") from None
        except BackendConnectionError as error:
            raise _BackendFailed(str(error)) from error
        call.first_byte_s = time.perf_counter() - call.started
        self.metrics.first_byte.labels(call.model).observe(call.first_byte_s)
        meter = stream_meter(call.endpoint, strip_usage, call.fields.n, call.fields.outputs)
        call.stream_owns_reservation = True

        async def tokens(status: int) -> tuple[int, int, str]:
            """(prompt, completion, source) of what was processed, however the stream ended."""
            completion = meter.completion_billed()
            if meter.prompt_tokens is not None and meter.usage_complete:
                source = "backend" if meter.completion_tokens is not None else "counted"
                if call.fields.outputs == 1:
                    self._learn_template(call, meter.prompt_tokens)
                return meter.prompt_tokens, completion, source
            counted = await self._prompt_for_billing(call, replica)
            return counted.tokens, completion, "counted" if counted.source == "tokenized" else "estimated"

        async def body() -> AsyncIterator[bytes]:
            metered = False
            try:
                out = meter.feed(first)
                if out:
                    yield out
                cut: str | None = None
                try:
                    async for chunk in chunks:
                        out = meter.feed(chunk)
                        if out:
                            yield out
                except BackendConnectionError as error:
                    cut = str(error)  # the backend died mid-stream: say so, bill what was processed
                tail = meter.flush()
                if tail:
                    yield tail
                status = 200 if cut is None else 502
                prompt, completion, source = await tokens(status)
                metered = True
                # Durable before the client sees the end of the stream.
                await self._meter(call, replica, prompt, completion, concurrent, status, source)
                if cut is not None:
                    message = f"the backend failed mid-stream: {cut}"
                    if call.endpoint == "messages":
                        yield anthropic_stream_error(message)
                    else:
                        yield stream_error_event(message, "backend_disconnected")
                else:
                    merged = meter.merged_usage_event()
                    if merged is not None:
                        yield merged
                    if meter.done_event is not None:
                        yield meter.done_event
            finally:
                response.close()  # no-op when the body was read to the end (connection reused)
                self.router.release(replica.replica_id)
                if not metered:  # the client hung up: still bill what was processed
                    task = asyncio.ensure_future(self._meter_abort(call, replica, concurrent, tokens))
                    task.add_done_callback(lambda t: t.exception())
                elif call.reservation is not None:
                    self.quotas.settle(call.reservation, 0)  # no-op once metered

        return PassThroughStream(body())

    async def _meter_abort(
        self,
        call: _Call,
        replica: ReplicaEndpoint,
        concurrent: int,
        tokens: Callable[[int], Awaitable[tuple[int, int, str]]],
    ) -> None:
        try:
            prompt, completion, source = await tokens(499)
            await self._meter(call, replica, prompt, completion, concurrent, 499, source)
        finally:
            if call.reservation is not None:
                self.quotas.settle(call.reservation, 0)  # no-op once metered

    async def _meter(
        self,
        call: _Call,
        replica: ReplicaEndpoint,
        prompt: int,
        completion: int,
        concurrent: int,
        status: int,
        source: str = "backend",
    ) -> None:
        record = self._usage_record(call, replica, prompt, completion, concurrent, status, source)
        self.served.add(call.route_model or call.model, completion, record.created_at)
        commit_started = time.perf_counter()
        await self.writer.write(record)
        self.metrics.usage_commit.observe(time.perf_counter() - commit_started)
        self._account(call, record)

    def _account(self, call: _Call, record: UsageRecord) -> None:
        """A metered request counted against its key's quota and in the metrics (a gateway request
        or a Batch API line alike)."""
        if call.reservation is not None:
            self.quotas.settle(call.reservation, record.total_tokens)
        elif call.key.token_quota is not None:
            self.quotas.add(
                call.key.id, period_bounds(record.created_at, call.key.quota_period)[0], record.total_tokens
            )
        self.metrics.observe_request(
            call.model,
            record.endpoint,
            record.status,
            record.prompt_tokens,
            record.completion_tokens,
            record.duration_ms / 1000.0,
        )
        # Unstreamed, the first byte the client gets is the whole answer's.
        ttft = call.first_byte_s if call.first_byte_s is not None else record.duration_ms / 1000.0
        self.on_metered(record, ttft)

    def _usage_record(
        self,
        call: _Call,
        replica: ReplicaEndpoint,
        prompt: int,
        completion: int,
        concurrent: int,
        status: int,
        source: str,
    ) -> UsageRecord:
        duration = time.perf_counter() - call.started
        return UsageRecord(
            id=uuid.uuid4().hex,
            created_at=self.clock(),
            key_id=call.key.id,
            endpoint=call.metered_as or call.endpoint,
            model=call.model,
            replica_id=replica.replica_id,
            rig=replica.rig,
            gpus=replica.gpus,
            prompt_tokens=prompt,
            completion_tokens=completion,
            duration_ms=duration * 1000.0,
            energy_wh=energy_wh(replica.watts, duration, concurrent),
            status=status,
            tokens_source=source,
        )


@dataclass
class _Call:
    """One request on its way through the gateway."""

    key: ApiKey
    endpoint: str
    model: str
    body: dict[str, Any]
    raw: bytes
    started: float
    fields: GatewayFields
    reservation: Reservation | None = None
    prompt: PromptCount | None = None  # counted by the backend's tokenizer before forwarding
    stream_owns_reservation: bool = False  # a stream settles its reservation when it ends
    first_byte_s: float | None = None  # streamed: when the backend's first byte arrived
    metered_as: str = ""  # the endpoint usage is recorded under, when not `endpoint` (responses)
    route_model: str | None = None  # an adapter's base model (call.model is the adapter, metered)
    adapter: str | None = None  # the tenant's adapter model id, applied per request


def _unservable(fields: GatewayFields, replica: ReplicaEndpoint) -> ApiError | None:
    """Why this replica cannot serve the request as asked (the request's fault), or None."""
    problem = max_tokens_problem(fields.max_tokens, replica.context)
    if problem is not None:
        return ApiError(problem, param="max_tokens", code="max_tokens_too_large")
    if fields.stream and fields.outputs > replica.max_parallel:
        return ApiError(
            f"a streamed request may ask for at most {replica.max_parallel} outputs (n x prompts) "
            f"on this model; it asked for {fields.outputs}",
            param="n",
        )
    return None


def stream_error_event(message: str, code: str) -> bytes:
    """An SSE event in the shape the openai client raises on (`data: {"error": ...}`)."""
    error = {"error": {"message": message, "type": "server_error", "code": code, "param": None}}
    return b"data: " + json.dumps(error).encode() + b"\n\n"


def _model_not_found(model: str) -> Response:
    return openai_error(
        404, f"the model {model!r} does not exist", type="invalid_request_error", code="model_not_found"
    )


def _unauthorized() -> Response:
    return openai_error(
        401, "missing, unknown or revoked API key", type="authentication_error", code="invalid_api_key"
    )
