"""Failed key checks counted per client address: past a few a minute, that client waits.

Keys are 256-bit random, so guessing one is hopeless; the throttle is about the cost and the noise
of trying (300 wrong keys were checked in 0.4 s, each a database read) and about short, human
chosen keys that `keys create` could one day accept. A client that fails `max_failures` times
within `window_s` gets 429 with Retry-After (the seconds until its oldest failure leaves the
window) on every key check, right or wrong, until then. Only failures count: a busy client with
a good key is never slowed. Memory is bounded: at most `max_clients` addresses are tracked, the
stalest dropped first.

Behind a NAT or a proxy many clients share one address, so one tenant hammering with a revoked key
would lock out everyone there. A key that succeeded from an address within `vouch_s` is therefore
still accepted from it while that address is throttled (`succeeded` records it, by the key's
hash): a guesser never holds such a key, so it learns nothing, and the good clients behind the
shared address keep working.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from collections.abc import Callable

from rigshift.server.errors import ApiError
from rigshift.server.stores.keys import hash_key  # vouched keys are kept by hash only

MAX_FAILURES = 20
WINDOW_S = 60.0
MAX_CLIENTS = 10_000
VOUCH_S = 3600.0
MAX_VOUCHED = 50_000


class LoginThrottled(ApiError):
    http_status = 429
    openai_type = "rate_limit_exceeded"
    default_code = "too_many_failed_logins"


class LoginThrottle:
    def __init__(
        self,
        clock: Callable[[], float],
        max_failures: int = MAX_FAILURES,
        window_s: float = WINDOW_S,
        max_clients: int = MAX_CLIENTS,
        vouch_s: float = VOUCH_S,
        max_vouched: int = MAX_VOUCHED,
    ):
        self.clock = clock
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_clients = max_clients
        self.vouch_s = vouch_s
        self.max_vouched = max_vouched
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._vouched: OrderedDict[tuple[str, str], float] = OrderedDict()  # (client, key hash) -> when
        self._lock = threading.Lock()

    def check(self, client: str, secret: str | None = None) -> None:
        """Raise LoginThrottled if `client` has failed too often lately, unless the presented key
        `secret` succeeded from this client within `vouch_s`."""
        wait = self.retry_after(client)
        if wait is not None and not (secret and self._is_vouched(client, hash_key(secret))):
            raise LoginThrottled(
                f"too many failed key checks from this address; retry in {wait} s", retry_after=str(wait)
            )

    def retry_after(self, client: str) -> int | None:
        now = self.clock()
        with self._lock:
            times = self._recent(client, now)
            if times is None or len(times) < self.max_failures:
                return None
            return max(1, math.ceil(times[0] + self.window_s - now))

    def succeeded(self, client: str, secret: str) -> None:
        now, vouched = self.clock(), (client, hash_key(secret))
        with self._lock:
            self._vouched[vouched] = now
            self._vouched.move_to_end(vouched)
            while len(self._vouched) > self.max_vouched:
                self._vouched.popitem(last=False)

    def _is_vouched(self, client: str, key_hash: str) -> bool:
        with self._lock:
            when = self._vouched.get((client, key_hash))
            return when is not None and when > self.clock() - self.vouch_s

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            times = self._recent(client, now)
            if times is None:
                times = self._failures[client] = deque(maxlen=self.max_failures)
            times.append(now)
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def _recent(self, client: str, now: float) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times


def client_address(host: str | None) -> str:
    return host or "unknown"
