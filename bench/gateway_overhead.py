"""Gateway overhead: the same llama.cpp server called directly and through `rigshift server`.

    python bench/gateway_overhead.py                     # 32 concurrent streams, 10 requests each
    python bench/gateway_overhead.py --concurrency 32 --requests 20 --rounds 3

One `llama-server` (the real binary from scripts/build-llama-server, $RIGSHIFT_LLAMA_SERVER or
PATH) serves the tiny generated model on the CPU with 32 slots; `rigshift server --backend`
fronts it in its own process with a real SQLite usage store, so every request through the
gateway is authenticated, routed, streamed through and metered (committed) as in production.
The load generator runs `--concurrency` streaming chat requests at a time, reads every SSE
event to `[DONE]`, and alternates direct and gateway rounds so drift hits both alike.
Reported: median and p90 request latency, throughput (requests/s and streamed tokens/s), the
added median latency and the throughput ratio. Targets: added median <= 2 ms, ratio >= 95%.
Each round also runs the same load as `/v1/responses` streams through the gateway (the same
backend request: one user message "hi", `max_output_tokens` = `--max-tokens`, stored as by
default), reported against chat through the gateway: target within 2 ms (`--no-responses` skips).
Without llama-server it runs against rigshift's fake backend and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from rigshift.run.backends import find_llama_server
from rigshift.run.tiny_gguf import write_tiny_gguf
from rigshift.server.backend_client import BackendPool
from rigshift.server.db import open_engine
from rigshift.server.serving import free_port
from rigshift.server.stores.keys import KeyStore

MODEL = "rigshift-tiny"
LEAN_CLIENT = True  # --client lean (default) or httpx
STORE_RESPONSES = True  # --no-store: the responses rounds send store: false
client_cpu: dict[str, float] = {}  # load generator CPU seconds per request, summed over rounds


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_healthy(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def request_path_and_body(api: str, max_tokens: int) -> tuple[str, dict[str, object]]:
    """The streamed request of `api` ("chat" or "responses"); both ask the backend the same."""
    if api == "responses":  # the gateway forwards it as the chat request below
        body: dict[str, object] = {
            "model": MODEL,
            "input": "hi",
            "max_output_tokens": max_tokens,
            "stream": True,
        }
        return "/v1/responses", body if STORE_RESPONSES else {**body, "store": False}
    return "/v1/chat/completions", {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},  # what the gateway asks the backend for
    }


async def one_round_lean(
    url: str, key: str | None, concurrency: int, requests: int, max_tokens: int, api: str = "chat"
):
    """The same load with rigshift's own httptools-based client: ~4x less client CPU than httpx,
    which matters when the load generator shares a core with the backend."""
    headers = {"authorization": f"Bearer {key}"} if key else {}
    path, request = request_path_and_body(api, max_tokens)
    body = json.dumps(request).encode()
    pool = BackendPool(read_timeout=60)
    latencies: list[float] = []
    ttfts: list[float] = []
    events = 0

    async def worker() -> None:
        nonlocal events
        for _ in range(requests):
            started = time.perf_counter()
            first: float | None = None
            response = await pool.post(url + path, body, headers)
            if response.status_code != 200:
                raise SystemExit(f"{url}: HTTP {response.status_code}: {await response.read()!r}")
            async for chunk in response.chunks():
                if first is None:
                    first = time.perf_counter() - started
                events += chunk.count(b"data: ")
            latencies.append(time.perf_counter() - started)
            ttfts.append(first or 0.0)

    wall_start, cpu_start = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - wall_start
    client_cpu[url + path] = client_cpu.get(url + path, 0.0) + (time.process_time() - cpu_start) / max(
        1, len(latencies)
    )
    await pool.aclose()
    return latencies, wall, events, ttfts


async def one_round(
    url: str, key: str | None, concurrency: int, requests: int, max_tokens: int, api: str = "chat"
):
    if LEAN_CLIENT:
        return await one_round_lean(url, key, concurrency, requests, max_tokens, api)
    headers = {"authorization": f"Bearer {key}"} if key else {}
    path, body = request_path_and_body(api, max_tokens)
    latencies: list[float] = []
    ttfts: list[float] = []
    events = 0
    stale = [0]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # TCP_NODELAY as the gateway uses towards backends, so neither leg waits on delayed ACKs.
    transport = httpx.AsyncHTTPTransport(
        limits=limits, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    )
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, transport=transport) as client:

        async def worker() -> None:
            nonlocal events
            for _ in range(requests):
                started = time.perf_counter()
                first_event: float | None = None
                for attempt in range(3):
                    try:
                        async with client.stream("POST", path, json=body) as response:
                            response.raise_for_status()
                            async for line in response.aiter_lines():
                                if line.startswith("data: "):
                                    if first_event is None:
                                        first_event = time.perf_counter() - started
                                    events += 1
                        break
                    except httpx.RemoteProtocolError:
                        # llama-server (cpp-httplib) closes a keep-alive connection after a few
                        # requests; a reused connection can find it closed. Count and resend.
                        stale[0] += 1
                        if attempt == 2:
                            raise
                latencies.append(time.perf_counter() - started)
                ttfts.append(first_event or 0.0)

        wall_start, cpu_start = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - wall_start
        client_cpu[url + path] = client_cpu.get(url + path, 0.0) + (time.process_time() - cpu_start) / max(
            1, len(latencies)
        )
    if stale[0]:
        print(f"  ({url}: {stale[0]} stale keep-alive connections resent)")
    return latencies, wall, events, ttfts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=10, help="per concurrent stream, per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="llama-server CPU threads")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="let all processes share every core (default: backend + load generator on core 0, gateway on "
        "core 1, as in production where the gateway runs on the control node and backends on rigs)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run backend, gateway and load generator at this nice value (e.g. -5 as root) so other "
        "jobs on a shared machine disturb the direct and gateway rounds less; same for both",
    )
    parser.add_argument(
        "--no-responses",
        action="store_true",
        help="skip the /v1/responses rounds (by default each round also streams the same load as Responses)",
    )
    parser.add_argument(
        "--no-store",
        action="store_true",
        help="the /v1/responses rounds send store: false (what storing each response costs, apart)",
    )
    parser.add_argument(
        "--client",
        choices=["httpx", "lean"],
        default="lean",
        help="load generator HTTP client: rigshift's lean httptools one (default: ~1.6 ms CPU per request "
        "instead of httpx's ~3.5, so the load generator disturbs the backend's core less) or httpx",
    )
    args = parser.parse_args()
    global LEAN_CLIENT, STORE_RESPONSES
    LEAN_CLIENT = args.client == "lean"
    STORE_RESPONSES = not args.no_store
    if args.nice:
        os.nice(args.nice)  # inherited by the backend and gateway processes started below
    pin = not args.no_pin and len(os.sched_getaffinity(0)) >= 2
    cores = sorted(os.sched_getaffinity(0))
    if pin:
        os.sched_setaffinity(0, {cores[0]})  # the load generator (and the backend it spawns)

    binary = find_llama_server()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        backend_port, gateway_port = free_port(), free_port()
        if binary is not None:
            model = write_tiny_gguf(Path(tmp) / "tiny.gguf", stop=False)
            backend_argv = [
                str(binary),
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(backend_port),
                "--parallel",
                str(args.concurrency),
                "--ctx-size",
                str(args.concurrency * 256),
                "--alias",
                MODEL,
                "--threads",
                str(args.threads),
                "--no-webui",
            ]
            label = f"llama-server ({binary})"
        else:
            backend_argv = [
                sys.executable,
                "-c",
                # The fake lives with the tests (it is a test double, not part of rigshift).
                f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1] / 'tests' / 'server')!r}); "
                "import uvicorn; from fake_backend import create_fake_backend; "
                f"uvicorn.run(create_fake_backend(), host='127.0.0.1', port={backend_port}, "
                "log_level='warning')",
            ]
            label = "rigshift fake backend (llama-server not found: run scripts/build-llama-server)"
        db = f"{tmp}/bench.db"
        key = KeyStore(open_engine(db)).create("bench", now=time.time())[1]
        backend_url = f"http://127.0.0.1:{backend_port}"
        gateway_argv = [
            sys.executable,
            "-m",
            "rigshift.cli.app",
            "server",
            "--port",
            str(gateway_port),
            "--db",
            db,
            "--join-token",
            "x",
            "--backend",
            f"{MODEL}={backend_url},parallel={args.concurrency},context=256",
        ]
        try:
            procs.append(subprocess.Popen(backend_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_healthy(backend_url + "/health")
            procs.append(
                subprocess.Popen(
                    gateway_argv,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env={**os.environ, "RIGSHIFT_DB": db},
                )
            )
            if pin:
                os.sched_setaffinity(procs[1].pid, {cores[1]})
            gateway_url = f"http://127.0.0.1:{gateway_port}"
            wait_healthy(gateway_url + "/healthz")
            asyncio.run(one_round(backend_url, None, args.concurrency, 2, args.max_tokens))  # warm-up
            asyncio.run(one_round(gateway_url, key, args.concurrency, 2, args.max_tokens))
            apis = ["chat"] if args.no_responses else ["chat", "responses"]
            if "responses" in apis:
                asyncio.run(one_round(gateway_url, key, args.concurrency, 2, args.max_tokens, "responses"))
            results: dict[str, list[tuple[list[float], float, int, list[float]]]] = {
                "direct": [],
                "gateway": [],
            }
            if "responses" in apis:
                results["responses"] = []
            cpu = {"chat": 0.0, "responses": 0.0}
            for round_index in range(args.rounds):
                results["direct"].append(
                    asyncio.run(
                        one_round(backend_url, None, args.concurrency, args.requests, args.max_tokens)
                    )
                )
                # Chat and Responses rounds swap places every round, so drift and whatever the
                # previous round left in the backend hit both alike.
                for api in apis if round_index % 2 == 0 else apis[::-1]:
                    before = cpu_seconds(procs[1].pid)
                    results["gateway" if api == "chat" else api].append(
                        asyncio.run(
                            one_round(gateway_url, key, args.concurrency, args.requests, args.max_tokens, api)
                        )
                    )
                    cpu[api] += cpu_seconds(procs[1].pid) - before
            gateway_cpu, responses_cpu = cpu["chat"], cpu["responses"]
            metrics = httpx.get(gateway_url + "/metrics").text
        finally:
            for p in reversed(procs):
                p.terminate()
                p.wait(10)

    print(
        f"gateway overhead: {args.concurrency} concurrent streams, {args.rounds} rounds x "
        f"{args.concurrency * args.requests} requests, max_tokens {args.max_tokens}; backend: {label}"
    )
    summary = {}
    for name, rounds in results.items():
        latencies = [x for r in rounds for x in r[0]]
        wall = sum(r[1] for r in rounds)
        events = sum(r[2] for r in rounds)
        med = statistics.median(latencies)
        p90 = statistics.quantiles(latencies, n=10)[-1]
        rps = len(latencies) / wall
        ttft = statistics.median([x for r in rounds for x in r[3]])
        summary[name] = (med, rps)
        print(
            f"  {name:8s} median {med * 1000:8.2f} ms   p90 {p90 * 1000:8.2f} ms   first event {ttft * 1000:7.2f} ms"
            f"   {rps:7.1f} req/s   {events / wall:8.1f} SSE events/s"
        )
    added = (summary["gateway"][0] - summary["direct"][0]) * 1000
    ratio = summary["gateway"][1] / summary["direct"][1]
    print(f"  added median latency: {added:+.2f} ms (target <= 2 ms)")
    print(f"  throughput ratio:     {ratio * 100:.1f}% of direct (target >= 95%)")
    if "responses" in results:
        versus_chat = (summary["responses"][0] - summary["gateway"][0]) * 1000
        print(
            f"  /v1/responses vs chat through the gateway: {versus_chat:+.2f} ms median (target within 2 ms)"
        )
    per_url = [f"{cpu / (args.rounds + 1) * 1000:.2f} ms" for cpu in client_cpu.values()]
    print(f"  load generator CPU:   {', '.join(per_url)} (direct, gateway chat[, responses] per request)")
    gateway_requests = sum(len(r[0]) for r in results["gateway"])
    print(f"  gateway process CPU:  {gateway_cpu / gateway_requests * 1000:.2f} ms per streamed request")
    if "responses" in results:
        per_response = responses_cpu / sum(len(r[0]) for r in results["responses"]) * 1000
        print(f"  gateway process CPU:  {per_response:.2f} ms per streamed /v1/responses request")
    commit = {
        name: float(line.split()[-1])
        for line in metrics.splitlines()
        for name in ("rigshift_usage_commit_seconds_sum", "rigshift_usage_commit_seconds_count")
        if line.startswith(name)
    }
    inside = {
        name: float(line.split()[-1])
        for line in metrics.splitlines()
        for name in (
            "rigshift_time_to_first_byte_seconds_sum",
            "rigshift_time_to_first_byte_seconds_count",
            "rigshift_request_duration_seconds_sum",
            "rigshift_request_duration_seconds_count",
        )
        if line.startswith(name + "{")
    }
    if inside.get("rigshift_request_duration_seconds_count"):
        ttfb = (
            inside["rigshift_time_to_first_byte_seconds_sum"]
            / inside["rigshift_time_to_first_byte_seconds_count"]
        )
        total = (
            inside["rigshift_request_duration_seconds_sum"]
            / inside["rigshift_request_duration_seconds_count"]
        )
        print(
            f"  seen by the gateway:  mean {total * 1000:.1f} ms per request, of which {ttfb * 1000:.1f} ms "
            "to the backend's first byte (warm-up included)"
        )
    if commit.get("rigshift_usage_commit_seconds_count"):
        mean = commit["rigshift_usage_commit_seconds_sum"] / commit["rigshift_usage_commit_seconds_count"]
        print(f"  usage commit wait:    {mean * 1000:.2f} ms mean per request (group commit, SQLite WAL)")


if __name__ == "__main__":
    main()
