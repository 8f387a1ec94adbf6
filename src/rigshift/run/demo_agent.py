"""`rigshift up --demo`'s agent: the demo farm's rigs report telemetry as real agents would.

The demo farm exists only as a fleet file, so nothing reported on it and every rig said
"telemetry age: none". This agent posts a `RigTelemetry` for each rig to
`POST /internal/telemetry` with the join token (the path `rigshift agent` takes), so the console's
live states, power and history charts fill as they would on a farm. Readings move around each
card's inventory values in slow waves (deterministic: no randomness, so a screenshot is
reproducible for a given time): mining cards near full load, the others near idle.

The farm's last rig stays silent, as a rig whose agent is down does: the demo shows that too.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import zlib
from collections.abc import Callable

from rigshift.client.http import ControlPlaneClient
from rigshift.fleet.model import Fleet, Rig
from rigshift.run.contracts import GpuTelemetry, RigTelemetry

log = logging.getLogger(__name__)
_WAVE_S = 1800.0  # one swing of load every half hour: visible on the 1 h chart


def _wave(t: float, key: str, period_s: float = _WAVE_S) -> float:
    """-1..1, a slow sine whose phase is fixed per GPU."""
    phase = zlib.crc32(key.encode()) / 2**32
    return math.sin(2 * math.pi * (t / period_s + phase))


def demo_reading(rig: Rig, t: float) -> list[GpuTelemetry]:
    """The rig's GPUs at time `t`: the inventory's readings, moving."""
    out = []
    for i, g in enumerate(rig.gpus):
        index = g.index if g.index is not None else i
        w = _wave(t, f"{rig.name}/{index}")
        limit = g.power.current if g.power else None
        base_w = g.power_draw_w if g.power_draw_w is not None else (limit or 150.0) * 0.2
        load = 0.97 + 0.02 * w if g.miner_running else max(0.0, 0.04 + 0.04 * w)
        out.append(
            GpuTelemetry(
                index=index,
                uuid=g.uuid,
                model=g.model,
                temperature_c=round((g.temperature_c or 40.0) + 4.0 * w, 1),
                power_w=round(max(1.0, base_w * (1 + 0.08 * w)), 1),
                power_limit_w=limit,
                utilization_pct=round(100 * load, 1),
                memory_used_gib=g.vram_used_by_others_gib or 0.0,
                memory_total_gib=g.vram_gib,
                memory_used_by_others_gib=g.vram_used_by_others_gib,
            )
        )
    return out


class DemoFarmAgent:
    """Posts every rig's report (but the last rig's) once per `interval_s`, spread over it."""

    def __init__(
        self,
        fleet: Fleet,
        post: Callable[[RigTelemetry], None],
        *,
        interval_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        close: Callable[[], None] = lambda: None,
    ):
        self.rigs = list(fleet.rigs[:-1])
        self.close = close  # after the last post: the client's connections
        self.post = post
        self.interval_s = interval_s
        self.clock = clock
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-agent", daemon=True)

    def report_round(self) -> None:
        pause = self.interval_s / max(1, len(self.rigs))
        for rig in self.rigs:
            if self._stop.is_set():
                return
            now = self.clock()
            try:
                self.post(RigTelemetry(rig=rig.name, timestamp=now, gpus=demo_reading(rig, now)))
                self.sent += 1
            except Exception as error:  # the server is stopping or busy: the next round reports again
                log.debug("demo telemetry not delivered: %s", error)
            self._stop.wait(pause)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.report_round()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.close()


def start_demo_agent(url: str, join_token: str, fleet: Fleet, interval_s: float = 10.0) -> DemoFarmAgent:
    """The demo agent posting to the control plane at `url`; `stop()` it (it closes its client)."""
    client = ControlPlaneClient(url, join_token, timeout=10)
    agent = DemoFarmAgent(
        fleet,
        lambda report: client.call("POST", "/internal/telemetry", content=report.model_dump_json()),
        interval_s=interval_s,
        close=client.close,
    )
    agent.start()
    return agent
