"""A function called every few seconds on a daemon thread until stopped: the energy loop, the
power-cap applier, the replica manager's reconcile loop and a rig's telemetry reporter."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Ticker:
    """Calls `tick` now and then every `interval_s` (sooner after `wake()`) until `stop()`. A tick
    that raises goes to `failed` and the loop goes on: the next tick retries."""

    def __init__(self, name: str, tick: Callable[[], object], failed: Callable[[Exception], None]) -> None:
        self.name = name
        self._tick = tick
        self._failed = failed
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, interval_s: float) -> None:
        """Start the thread (once: a second call while it runs does nothing)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, args=(interval_s,), name=self.name, daemon=True)
            self._thread.start()

    def _run(self, interval_s: float) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception as error:
                self._failed(error)
            self._wake.wait(interval_s)
            self._wake.clear()

    def wake(self) -> None:
        """Tick now rather than at the end of the interval."""
        self._wake.set()

    def stop(self, join_s: float | None = None) -> None:
        """End the loop (a tick under way finishes); with `join_s`, wait that long for the thread."""
        self._stop.set()
        self._wake.set()
        if join_s is not None and self._thread is not None:
            self._thread.join(timeout=join_s)
            self._thread = None
