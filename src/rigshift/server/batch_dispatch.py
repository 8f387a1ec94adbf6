"""The runner's dispatcher over the gateway: a batch line runs as its owner's key, on spare slots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import anyio.to_thread

from rigshift.run.contracts import ReplicaEndpoint
from rigshift.server.batch_input import BatchLine
from rigshift.server.batch_runner import DispatchResult
from rigshift.server.gateway import Gateway
from rigshift.server.stores.keys import KeyStore

_REVOKED = b'{"error": {"message": "the API key that created this batch was revoked", "type": "authentication_error", "code": "invalid_api_key", "param": null}}'


@dataclass
class GatewayDispatcher:
    gateway: Gateway
    keys: KeyStore
    # The energy policy's per-site batch switch, asked per replica (None: batch may run anywhere).
    replica_allowed: Callable[[ReplicaEndpoint], bool] | None = None

    async def dispatch(self, key_id: str, endpoint: str, line: BatchLine) -> DispatchResult:
        # Looked up per line, not cached: a key revoked mid-batch stops billing at once.
        key = await anyio.to_thread.run_sync(self.keys.get, key_id)
        if key is None or key.revoked:
            return DispatchResult(401, _REVOKED)
        if not key.allows(line.model):
            return DispatchResult(
                403,
                b'{"error": {"message": "this API key may no longer use this model", '
                b'"type": "permission_error", "code": "model_not_allowed", "param": null}}',
            )
        return await self.gateway.batch_line(key, endpoint, line.body, self.replica_allowed)
