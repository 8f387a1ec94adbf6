"""Keep one inference backend process alive and say truthfully whether it can serve.

The supervisor starts the backend (llama-server & co.), polls its health endpoint and restarts it
when it exits, hangs at start-up or stops answering, with exponential backoff so a backend that
crashes on load does not spin. It reports "ready" only after the backend answered its health
check, never merely because the process exists.

`step()` is one monitoring tick and is deterministic given the injected `spawn`, `probe` and
`clock`; the background thread just calls it every `interval` seconds. Unit tests drive `step()`
with fakes; integration tests run the real thing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from rigshift.run.contracts import ReplicaState


class Process(Protocol):
    pid: int

    def poll(self) -> int | None: ...

    def kill(self) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...


Spawn = Callable[[Sequence[str], dict[str, str]], Process]
Probe = Callable[[str], bool]


@dataclass(frozen=True)
class SupervisorSettings:
    interval_s: float = 0.5  # between health checks
    start_timeout_s: float = 300.0  # loading a big model over an x1 riser takes minutes
    unhealthy_after: int = 3  # consecutive failed checks of a ready backend before a restart
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0


@dataclass
class SupervisorStatus:
    state: ReplicaState
    pid: int | None
    restarts: int
    last_exit_code: int | None
    last_error: str | None
    events: list[str] = field(default_factory=list)


def spawn_subprocess(log_path: Path | None = None) -> Spawn:
    """Real process start: own session (so a kill takes its children), output to a log file."""

    def spawn(argv: Sequence[str], env: dict[str, str]) -> Process:
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - child keeps it
        try:
            return subprocess.Popen(
                list(argv), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            if log_path:
                out.close()  # type: ignore[union-attr]

    return spawn


def http_probe(timeout_s: float = 2.0) -> Probe:
    """Health check: a 200 from the URL. llama-server answers 503 while it loads the model."""

    def probe(url: str) -> bool:
        try:
            return httpx.get(url, timeout=timeout_s).status_code == 200
        except httpx.HTTPError:
            return False

    return probe


class BackendSupervisor:
    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        health_url: str,
        *,
        spawn: Spawn | None = None,
        probe: Probe | None = None,
        clock: Callable[[], float] = time.monotonic,
        settings: SupervisorSettings = SupervisorSettings(),
    ) -> None:
        self.argv = list(argv)
        self.env = env
        self.health_url = health_url
        self._spawn = spawn or spawn_subprocess()
        self._probe = probe or http_probe()
        self._clock = clock
        self.settings = settings
        self._lock = threading.RLock()  # guards the state below
        self._step_lock = threading.Lock()  # one tick at a time (loop thread, check_now)
        self._process: Process | None = None
        self._state: ReplicaState = "starting"
        self._stopped = False
        self._started_at = 0.0
        self._next_start_at = 0.0
        self._crashes_in_a_row = 0
        self._failed_checks = 0
        self._restarts = -1  # the first start is not a restart
        self._last_exit: int | None = None
        self._last_error: str | None = None
        self._events: list[str] = []
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the monitoring logic -------------------------------------------------------------

    def step(self) -> ReplicaState:
        """One tick: (re)start the process if due, check its health, update the state.

        The health probe (an HTTP call, up to its timeout) runs outside the state lock, so
        `status()` answers at once even while a probe waits; `_step_lock` keeps ticks in order.
        """
        with self._step_lock:
            with self._lock:
                if self._stopped:
                    return self._state
                now = self._clock()
                proc = self._process
                if proc is not None and (code := proc.poll()) is not None:
                    self._on_exit(code, now)
                    proc = None
                if proc is None:
                    if now >= self._next_start_at:
                        self._start(now)
                    return self._state
            healthy = self._probe(self.health_url)
            with self._lock:
                if self._stopped or self._process is not proc:
                    return self._state  # stopped or killed while we probed: nothing to judge
                return self._judge(healthy, now)

    def _judge(self, healthy: bool, now: float) -> ReplicaState:
        if healthy:
            if self._state != "ready":
                self._event(f"ready after {now - self._started_at:.1f}s")
            self._state = "ready"
            self._ready.set()
            self._failed_checks = 0
            self._crashes_in_a_row = 0
        elif self._state == "ready":
            self._failed_checks += 1
            if self._failed_checks >= self.settings.unhealthy_after:
                self._kill(f"no answer to {self._failed_checks} health checks")
                self._on_exit(None, now)
        elif now - self._started_at > self.settings.start_timeout_s:
            self._kill(f"not ready within {self.settings.start_timeout_s:.0f}s")
            self._on_exit(None, now)
        return self._state

    def _start(self, now: float) -> None:
        try:
            self._process = self._spawn(self.argv, self.env)
        except OSError as error:  # binary missing or not executable: retry with backoff
            self._last_error = f"cannot start {self.argv[0]}: {error}"
            self._event(self._last_error)
            self._on_exit(None, now)
            return
        self._restarts += 1
        self._started_at = now
        self._failed_checks = 0
        self._state = "starting"
        self._event(f"started pid {self._process.pid}")

    def _on_exit(self, code: int | None, now: float) -> None:
        self._process = None
        self._ready.clear()
        self._state = "unhealthy"
        if code is not None:
            self._last_exit = code
            self._last_error = f"backend exited with code {code}"
            self._event(self._last_error)
        self._crashes_in_a_row += 1
        delay = min(
            self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** (self._crashes_in_a_row - 1)
        )
        self._next_start_at = now + delay

    def _kill(self, reason: str) -> None:
        self._last_error = reason
        self._event(f"killing backend: {reason}")
        if self._process is not None:
            _kill_process(self._process)

    def _event(self, text: str) -> None:
        self._events.append(text)
        del self._events[:-50]  # keep the recent history only

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Run the monitoring loop in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="backend-supervisor", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stopped:
            self.step()
            time.sleep(self.settings.interval_s)

    def wait_ready(self, timeout_s: float) -> bool:
        return self._ready.wait(timeout_s)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._ready.clear()
            if self._process is not None:
                _kill_process(self._process)
                self._process = None
            self._state = "stopped"
            self._event("stopped")

    def kill_backend(self) -> int | None:
        """Kill the backend process as a crash would (for failure drills); returns its pid."""
        with self._lock:
            proc = self._process
        if proc is None:
            return None
        _kill_process(proc)
        return proc.pid

    def status(self) -> SupervisorStatus:
        with self._lock:
            return SupervisorStatus(
                state=self._state,
                pid=self._process.pid if self._process else None,
                restarts=max(self._restarts, 0),
                last_exit_code=self._last_exit,
                last_error=self._last_error,
                events=list(self._events),
            )


def _kill_process(proc: Process) -> None:
    """SIGKILL the process group (llama-server has no children, but wrappers may).

    Only a real Popen started in its own session owns a group; anything else (a test fake) is
    asked to kill itself, so a fake's made-up pid can never hit a real process.
    """
    if isinstance(proc, subprocess.Popen):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
    else:
        proc.kill()
    with contextlib.suppress(Exception):  # a fake or a zombie: nothing more to do
        proc.wait(timeout=5)
