"""Interactive demand as the gateway sees it: tokens served per second per model, recently.

The energy policy sizes replicas and the batch work their free slots can take from the
interactive demand. At run time that demand is what customers are actually asking for: the
completion tokens of interactive requests (Batch API lines excluded: they are the deferrable
work, not the demand) over a sliding window. Written from the gateway's event loop, read from
the energy loop's thread, hence the lock.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

WINDOW_S = 300.0  # five minutes: long enough to smooth bursts, short enough to follow the day


@dataclass
class ServedRate:
    window_s: float = WINDOW_S
    _events: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)
    _totals: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, model: str, tokens: int, at: float) -> None:
        if tokens <= 0:
            return
        with self._lock:
            self._events.setdefault(model, deque()).append((at, tokens))
            self._totals[model] = self._totals.get(model, 0) + tokens
            self._expire(model, at)

    def tokens_per_s(self, model: str, now: float) -> float:
        """Completion tokens per second of `model` over the last `window_s` seconds."""
        with self._lock:
            if model not in self._events:
                return 0.0
            self._expire(model, now)
            return self._totals[model] / self.window_s

    def _expire(self, model: str, now: float) -> None:
        events = self._events[model]
        while events and events[0][0] <= now - self.window_s:
            self._totals[model] -= events.popleft()[1]
