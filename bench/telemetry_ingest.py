"""Control-plane CPU while ingesting telemetry from a simulated farm.

    python bench/telemetry_ingest.py                      # 2,000 GPUs (250 rigs x 8) every 5 s, 30 s
    python bench/telemetry_ingest.py --gpus 4000 --seconds 60

Starts `rigshift server` as its own process (SQLite in a temp dir), measures that process's CPU
time (user + system, from /proc) over the same window twice: idle (the baseline: the server
with nobody reporting) and while every rig posts its GPUs' readings every `--interval` seconds,
spread evenly. Target: under 25% of one core for 2,000 GPUs every 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

TOKEN = "bench-join-token"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(rig: int, gpus: int) -> dict[str, object]:
    return {
        "rig": f"rig-{rig:04d}",
        "timestamp": time.time(),
        "gpus": [
            {
                "index": i,
                "uuid": f"GPU-{rig:04d}-{i}",
                "model": "rtx-3060-12g",
                "temperature_c": random.uniform(50, 80),
                "power_w": random.uniform(90, 170),
                "power_limit_w": 170.0,
                "utilization_pct": random.uniform(0, 100),
                "memory_used_gib": random.uniform(1, 11),
                "memory_total_gib": 12.0,
                "memory_used_by_others_gib": 0.0,
            }
            for i in range(gpus)
        ],
    }


async def simulate(url: str, rigs: int, gpus_per_rig: int, interval: float, seconds: float) -> int:
    sent = 0
    headers = {"authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:

        async def rig_loop(rig: int) -> None:
            nonlocal sent
            await asyncio.sleep(interval * rig / rigs)  # agents are not synchronised
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                started = time.monotonic()
                r = await client.post("/internal/telemetry", json=report(rig, gpus_per_rig))
                r.raise_for_status()
                sent += 1
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

        await asyncio.gather(*(rig_loop(r) for r in range(rigs)))
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gpus", type=int, default=2000)
    parser.add_argument("--gpus-per-rig", type=int, default=8)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--port", type=int, default=18731)
    args = parser.parse_args()
    rigs = args.gpus // args.gpus_per_rig
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rigshift.cli.app",
                "server",
                "--port",
                str(args.port),
                "--db",
                f"{tmp}/bench.db",
                "--join-token",
                TOKEN,
                "--no-ray",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{args.port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(url + "/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            time.sleep(1.0)
            idle_start = cpu_seconds(server.pid)
            time.sleep(args.seconds)
            idle = (cpu_seconds(server.pid) - idle_start) / args.seconds

            busy_start, wall_start = cpu_seconds(server.pid), time.monotonic()
            sent = asyncio.run(simulate(url, rigs, args.gpus_per_rig, args.interval, args.seconds))
            wall = time.monotonic() - wall_start
            busy = (cpu_seconds(server.pid) - busy_start) / wall
            metrics = httpx.get(url + "/metrics").text
        finally:
            server.terminate()
            server.wait(10)
    gpu_lines = sum(1 for line in metrics.splitlines() if line.startswith("rigshift_gpu_power_w{"))
    print(
        f"telemetry ingest: {rigs} rigs x {args.gpus_per_rig} GPUs = {rigs * args.gpus_per_rig} GPUs "
        f"every {args.interval:g} s, {wall:.1f} s window"
    )
    print(
        f"  reports ingested:            {sent} ({sent / wall:.1f}/s, {sent * args.gpus_per_rig / wall:.0f} GPU readings/s)"
    )
    print(f"  baseline, idle server:       {idle * 100:.2f}% of one core")
    print(f"  server CPU while ingesting:  {busy * 100:.2f}% of one core  (target < 25%)")
    print(f"  GPUs visible in /metrics:    {gpu_lines}")


if __name__ == "__main__":
    main()
