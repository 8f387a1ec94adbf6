"""Batch API lines through the gateway: each runs as its owner's key, on spare replica slots only.

The batch runner hands every line here. A line takes a free slot of a ready replica (never a
queue place: interactive requests keep those), reserves its owner's quota the way an interactive
request does, and is forwarded and metered with the gateway's own steps (`_reserve`, `_send`,
`_prompt_for_billing`, `_usage_record`, `_account`), so both paths bill alike; this module decides only
where and whether a line runs now.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from rigshift.run.contracts import ReplicaEndpoint
from rigshift.server.backend_client import BackendConnectionError
from rigshift.server.batch_input import BatchLine
from rigshift.server.batch_runner import DispatchResult
from rigshift.server.capabilities import capability_refusal
from rigshift.server.errors import error_response, normalise_backend_error
from rigshift.server.gateway import Gateway, _BackendFailed, _Call, _TryAnother, _unservable
from rigshift.server.openai_body import read_fields
from rigshift.server.request_fields import one_length_field
from rigshift.server.services.keys import ApiKey, KeysService
from rigshift.server.strict_json import loads_strict

_REVOKED = b'{"error": {"message": "the API key that created this batch was revoked", "type": "authentication_error", "code": "invalid_api_key", "param": null}}'


@dataclass
class GatewayDispatcher:
    gateway: Gateway
    keys: KeysService
    # The energy policy's per-site batch switch, asked per replica (None: batch may run anywhere).
    replica_allowed: Callable[[ReplicaEndpoint], bool] | None = None

    async def dispatch(self, key_id: str, endpoint: str, line: BatchLine) -> DispatchResult:
        # Looked up per line, not cached: a key revoked mid-batch stops billing at once.
        key = await self.keys.get(key_id)
        if key is None or key.revoked:
            return DispatchResult(401, _REVOKED)
        if not key.allows(line.model):
            return DispatchResult(
                403,
                b'{"error": {"message": "this API key may no longer use this model", '
                b'"type": "permission_error", "code": "model_not_allowed", "param": null}}',
            )
        return await self.run_line(key, endpoint, line.body)

    def spare_replica(self, model: str) -> ReplicaEndpoint | None:
        """The least busy ready replica of `model` with a free slot, at a site where batch may run.

        Batch work only takes free slots: a replica's queue (`queue_factor`) is left to interactive
        requests, so a backlog of batch lines never makes a customer's chat wait or see a 429.
        """
        best: ReplicaEndpoint | None = None
        best_load = 0.0
        gateway = self.gateway
        for replica in gateway.directory.ready_replicas(model):
            if self.replica_allowed is not None and not self.replica_allowed(replica):
                continue
            busy = gateway.router.outstanding.get(replica.replica_id, 0)
            if busy >= replica.max_parallel:
                continue
            load = busy / max(1, replica.max_parallel)
            if best is None or load < best_load:
                best, best_load = replica, load
        return best

    async def run_line(self, key: ApiKey, endpoint: str, raw: bytes) -> DispatchResult:
        """Run one Batch API line on spare capacity; the usage it returns is for the caller to store.

        The runner stores the usage with the line's result in one transaction (the checkpoint), so
        nothing here writes it. `retry_later` means nothing ran: no free slot, the quota is spent
        for now, or the replica did not answer; the line is tried again on a later tick.
        """
        gateway = self.gateway
        body = loads_strict(raw, max_depth=gateway.settings.max_json_depth)
        fields = read_fields(body, endpoint)
        if one_length_field(body, fields.max_tokens):
            raw = json.dumps(body).encode()
        call = _Call(key, endpoint, fields.model, body, raw, time.perf_counter(), fields)
        replica = self.spare_replica(fields.model)
        if replica is None:
            return DispatchResult(retry_later=True, reason="no free replica slot")
        unservable = capability_refusal(gateway.directory, endpoint, body, fields.model) or _unservable(
            fields, replica
        )
        if unservable is not None:  # the request's own fault: final, nothing billed
            return DispatchResult(400, bytes(error_response(unservable).body))
        try:
            refused = await gateway._reserve(call, replica, fields) if key.token_quota is not None else None
            if refused is not None and refused.status_code == 400:  # the prompt cannot fit: final
                return DispatchResult(400, bytes(refused.body))
            if refused is not None:  # the runner reports it (error file) once it is refused alone
                return DispatchResult(
                    refused.status_code,
                    bytes(refused.body),
                    retry_later=True,
                    quota_spent=True,
                    reason="token quota",
                )
            concurrent = gateway.router.acquire(replica.replica_id)
            try:
                status, content = await gateway._fetch(call, replica)
            except (_BackendFailed, BackendConnectionError) as failure:
                gateway.directory.report_failure(replica.replica_id, str(failure))
                return DispatchResult(retry_later=True, reason=str(failure))
            except _TryAnother as busy:
                return DispatchResult(retry_later=True, reason=str(busy))
            finally:
                gateway.router.release(replica.replica_id)
            if status >= 400:  # the request's own fault: final, nothing billed
                error = normalise_backend_error(status, content)
                return DispatchResult(status, bytes(error.body))
            prompt, completion, source = 0, 0, "backend"
            usage: object = None
            with contextlib.suppress(ValueError, AttributeError):
                usage = json.loads(content).get("usage")
            if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
                prompt = int(usage.get("prompt_tokens") or 0)
                completion = int(usage.get("completion_tokens") or 0)
            else:
                counted = await gateway._prompt_for_billing(call, replica)
                prompt, source = counted.tokens, counted.source
            record = gateway._usage_record(call, replica, prompt, completion, concurrent, status, source)
            gateway._account(call, record)
            return DispatchResult(status, content, record)
        finally:
            if call.reservation is not None:
                gateway.quotas.settle(call.reservation, 0)  # no-op once settled
