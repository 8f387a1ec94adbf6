"""What the energy loop decided lately, per site: the console's price and hours charts.

The loop ticks every few seconds; the history keeps one point per `step_s` (the latest decision
in each step wins) for the last `keep_s`, in memory (a restart starts it again; the events, which
are what must survive, are in the database).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

ROLES = ("interactive", "batch", "mining", "off")


class DecisionHistory:
    def __init__(self, step_s: int = 300, keep_s: int = 2 * 86400) -> None:
        self.step_s = max(1, int(step_s))
        self.points = max(1, keep_s // self.step_s)
        self._sites: dict[str, deque[tuple[int, float, float, tuple[int, ...]]]] = {}
        self._lock = threading.Lock()

    def record(
        self, site: str, at: float, usd_per_kwh: float, power_kw: float, cards: tuple[int, int, int, int]
    ) -> None:
        """A decision at `at`: the price it saw, the draw it planned, its cards per role (`ROLES`)."""
        slot = int(at) // self.step_s * self.step_s
        point = (slot, usd_per_kwh * 1000, power_kw, tuple(cards))
        with self._lock:
            points = self._sites.setdefault(site, deque(maxlen=self.points))
            if points and points[-1][0] == slot:
                points[-1] = point
            elif not points or points[-1][0] < slot:
                points.append(point)

    def series(self, site: str) -> dict[str, Any]:
        """Columns, oldest first: `at` (the step's start, unix s), `price_usd_mwh`, `power_kw`, and
        the cards in each role."""
        with self._lock:
            points = list(self._sites.get(site, ()))
        out: dict[str, Any] = {
            "step_s": self.step_s,
            "at": [p[0] for p in points],
            "price_usd_mwh": [round(p[1], 3) for p in points],
            "power_kw": [round(p[2], 3) for p in points],
        }
        for i, role in enumerate(ROLES):
            out[role] = [p[3][i] for p in points]
        return out
