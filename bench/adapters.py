"""32 LoRA adapters on one base replica: what the gateway adds, and what the base serves.

    python bench/adapters.py                      # 32 adapters, 300 latency samples, 6 rounds of 96 x 3
    python bench/adapters.py --adapters 32 --samples 600 --load 160 --rounds 10 --concurrency 8

One real `llama-server` (scripts/build-llama-server, $RIGSHIFT_LLAMA_SERVER or PATH) serves the
tiny generated model on the CPU with `--adapters` generated tiny LoRAs loaded (`--lora` x N,
`--lora-init-without-apply`), exactly as a replica with adapters runs. The gateway runs in its
own process (`--serve`, the real app: adapters read from its SQLite store, the replica's adapter
list as the data plane publishes it, every request authenticated, rewritten and metered).

Reported, in the same run (rounds interleaved so drift hits every arm alike):
* latency (one request at a time, non-streamed, 8 tokens): p50 direct to llama-server with the
  same `lora` field the gateway would send, and p50 through the gateway, for the base model and
  for an adapter (a different one each request); the gateway's added p50 for each. Target:
  adapter requests add < 2 ms p50 through the gateway.
* the base replica's throughput (direct, `--concurrency` requests at a time): every request on
  the base (adapters loaded, scale 0), every request on one adapter, and requests spread over
  all adapters; completion tokens/s and the ratio to the base. llama-server batches only
  requests whose adapter scales are equal, so spreading requests over many adapters is the
  worst case.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from gateway_overhead import cpu_seconds, wait_healthy  # bench/ is on the path: scripts run from it

MODEL = "rigshift-tiny"
PROMPT = {"prompt": "hi", "max_tokens": 8, "temperature": 0}


def serve(port: int, db: str, store: str, backend: str, adapters: list[str]) -> None:
    """The gateway process: the real app over a one-replica directory that loads `adapters`."""
    import uvicorn

    from rigshift.run.adapter_placement import ADAPTERS_LABEL
    from rigshift.run.contracts import ReplicaEndpoint
    from rigshift.server.app import create_app
    from rigshift.server.db import open_engine
    from rigshift.server.settings import ServerSettings
    from rigshift.server.static_directory import StaticDirectory

    replica = ReplicaEndpoint(
        "r0",
        "bench",
        MODEL,
        backend,
        "rig",
        ("rig/cpu",),
        "ready",
        max_parallel=8,
        context=256,
        labels={ADAPTERS_LABEL: json.dumps(adapters)},
    )
    app = create_app(
        StaticDirectory([replica]),
        ServerSettings(join_token="x", model_store_dir=store),
        engine=open_engine(db),
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", loop="uvloop", http="httptools")


def rewrite_cost_us(ids: list[str]) -> float:
    """The adapter step alone, in process: look the adapter up for its key and rewrite the body
    for a replica loading all `ids` (what an adapter request costs the gateway beyond a base one)."""
    import timeit

    from rigshift.run.adapter_placement import ADAPTERS_LABEL
    from rigshift.run.contracts import ReplicaEndpoint
    from rigshift.server.adapter_routing import AdapterRouting, with_lora
    from rigshift.server.stores.adapters import Adapter
    from rigshift.server.stores.keys import ApiKey

    key = ApiKey("k", "bench")
    routing = AdapterRouting(lambda: [Adapter(i, "k", MODEL, "f", 1, "0", 1.0, 1, 0.0) for i in ids])
    routing.refresh()
    replica = ReplicaEndpoint("r0", "b", MODEL, "http://x", "rig", labels={ADAPTERS_LABEL: json.dumps(ids)})
    body = {**PROMPT, "model": ids[-1], "messages": [{"role": "user", "content": "hi " * 100}]}
    raw = json.dumps(body).encode()

    def step() -> None:
        adapter = routing.for_key(key, ids[-1])
        assert adapter is not None
        with_lora(dict(body), raw, replica, adapter.id)

    n = 20_000
    return min(timeit.repeat(step, number=n, repeat=5)) / n * 1e6


def lora(index: int | None) -> list[dict[str, float]]:
    return [{"id": 0, "scale": 0.0}] if index is None else [{"id": index, "scale": 1.0}]


async def one(
    client: httpx.AsyncClient, url: str, body: dict[str, object], headers: dict[str, str]
) -> tuple[float, int]:
    started = time.perf_counter()
    response = await client.post(url, json=body, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code} {response.text[:300]}")
    return elapsed, int(response.json()["usage"]["completion_tokens"])


async def latency_round(
    direct: str, gateway: str, key: str, adapters: list[str], samples: int
) -> dict[str, list[float]]:
    """Interleaved single requests: direct/gateway x base/adapter."""
    out: dict[str, list[float]] = {
        "direct base": [],
        "gateway base": [],
        "direct adapter": [],
        "gateway adapter": [],
    }
    auth = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=30) as client:
        for i in range(samples):
            n = i % len(adapters)
            arms = [
                ("direct base", direct, {**PROMPT, "model": MODEL, "lora": lora(None)}, {}),
                ("gateway base", gateway, {**PROMPT, "model": MODEL}, auth),
                ("direct adapter", direct, {**PROMPT, "model": MODEL, "lora": lora(n)}, {}),
                ("gateway adapter", gateway, {**PROMPT, "model": adapters[n]}, auth),
            ]
            for name, url, body, headers in arms[i % 4 :] + arms[: i % 4]:
                out[name].append((await one(client, url + "/v1/completions", body, headers))[0])
    return out


async def throughput(direct: str, bodies: list[dict[str, object]], concurrency: int) -> tuple[float, int]:
    """(seconds, completion tokens) for `bodies`, `concurrency` at a time, straight to llama-server."""
    queue = list(bodies)
    tokens = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal tokens
        while queue:
            body = queue.pop()
            tokens += (await one(client, direct + "/v1/completions", body, {}))[1]

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return time.perf_counter() - started, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adapters", type=int, default=32)
    parser.add_argument("--samples", type=int, default=300, help="latency samples per arm")
    parser.add_argument("--load", type=int, default=96, help="requests per throughput arm and round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=8, help="completion tokens per request")
    parser.add_argument("--embd", type=int, default=64, help="the generated model's width (64: the demo's)")
    parser.add_argument("--layers", type=int, default=2, help="the generated model's depth")
    parser.add_argument(
        "--serve", nargs=5, metavar=("PORT", "DB", "STORE", "BACKEND", "ADAPTERS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        port, db, store, backend, adapters = args.serve
        serve(int(port), db, store, backend, json.loads(adapters))
        return

    from rigshift.run.backends import find_llama_server
    from rigshift.run.tiny_gguf import TinyModelShape, write_tiny_gguf
    from rigshift.run.tiny_lora import write_tiny_lora
    from rigshift.server.db import open_engine
    from rigshift.server.serving import free_port
    from rigshift.server.stores.adapters import Adapter, AdapterStore
    from rigshift.server.stores.keys import KeyStore

    binary = find_llama_server()
    if binary is None:
        raise SystemExit(
            "llama-server not found: run scripts/build-llama-server (or set RIGSHIFT_LLAMA_SERVER)"
        )
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        PROMPT["max_tokens"] = args.max_tokens
        shape = TinyModelShape(n_embd=args.embd, n_layer=args.layers, n_ff=2 * args.embd)
        base = write_tiny_gguf(store / f"{MODEL}.gguf", stop=False, shape=shape)
        db = f"{tmp}/bench.db"
        engine = open_engine(db)
        owner, key = KeyStore(engine).create("bench", now=time.time())
        ids, paths = [], []
        for n in range(args.adapters):
            # start words 1..7 of the 8-word reply, repeated: distinct files, distinct answers
            path = write_tiny_lora(
                store / f"adapter-{n:04d}.gguf", start_word=1 + n % 7, rank=1 + n // 7, shape=shape
            )
            adapter_id = f"ft:{MODEL}:{owner.id}::{n:04d}"
            AdapterStore(engine).add(
                Adapter(
                    adapter_id, owner.id, MODEL, path.name, path.stat().st_size, "0" * 64, 1.0, 1, time.time()
                )
            )
            ids.append(adapter_id)
            paths.append(str(path))
        backend_port, gateway_port = free_port(), free_port()
        backend = f"http://127.0.0.1:{backend_port}"
        argv = [str(binary), "--model", str(base), "--host", "127.0.0.1", "--port", str(backend_port)]
        argv += [
            "--parallel",
            str(args.concurrency),
            "--ctx-size",
            str(args.concurrency * (64 + args.max_tokens)),
        ]
        argv += ["--alias", MODEL, "--threads", "1", "--no-webui"]
        for file in paths:
            argv += ["--lora", file]
        argv += ["--lora-init-without-apply"]
        gateway_argv = [
            sys.executable,
            __file__,
            "--serve",
            str(gateway_port),
            db,
            str(store),
            backend,
            json.dumps(ids),
        ]
        try:
            procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_healthy(backend + "/health")
            procs.append(
                subprocess.Popen(
                    gateway_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy()
                )
            )
            gateway = f"http://127.0.0.1:{gateway_port}"
            wait_healthy(gateway + "/healthz")
            loaded = httpx.get(backend + "/lora-adapters").json()
            print(f"llama-server {binary}: {len(loaded)} adapters loaded; gateway pid {procs[1].pid}")
            asyncio.run(latency_round(backend, gateway, key, ids, 10))  # warm-up
            texts = [
                httpx.post(
                    gateway + "/v1/completions",
                    json={**PROMPT, "model": m},
                    headers={"authorization": f"Bearer {key}"},
                ).json()["choices"][0]["text"]
                for m in (MODEL, ids[0])
            ]
            if texts[0] == texts[1]:
                raise SystemExit(f"the adapter did not change the answer: {texts[0]!r}")
            print(f"base answers {texts[0].strip()!r}; {ids[0]} answers {texts[1].strip()!r}")
            samples: dict[str, list[float]] = {}
            per_cpu: dict[str, list[float]] = {
                "base": [],
                "one adapter": [],
                f"{args.adapters} adapters mixed": [],
            }
            rates: dict[str, list[float]] = {
                "base": [],
                "one adapter": [],
                f"{args.adapters} adapters mixed": [],
            }
            for round_ in range(args.rounds):
                for name, values in asyncio.run(
                    latency_round(backend, gateway, key, ids, args.samples // args.rounds)
                ).items():
                    samples.setdefault(name, []).extend(values)
                bodies = {
                    "base": [{**PROMPT, "model": MODEL, "lora": lora(None)} for _ in range(args.load)],
                    "one adapter": [{**PROMPT, "model": MODEL, "lora": lora(0)} for _ in range(args.load)],
                    f"{args.adapters} adapters mixed": [
                        {**PROMPT, "model": MODEL, "lora": lora(i % args.adapters)} for i in range(args.load)
                    ],
                }
                arms = list(bodies.items())
                for name, load in arms[round_ % len(arms) :] + arms[: round_ % len(arms)]:  # rotate
                    cpu_before = cpu_seconds(procs[0].pid)
                    seconds, tokens = asyncio.run(throughput(backend, load, args.concurrency))
                    rates[name].append(tokens / seconds)
                    per_cpu[name].append(tokens / max(1e-9, cpu_seconds(procs[0].pid) - cpu_before))
        finally:
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(timeout=10)

    p50 = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    print(
        f"\nthe adapter step in the gateway (lookup + body rewrite, {len(ids)} adapters): {rewrite_cost_us(ids):.1f} us"
    )
    print(f"\nlatency, one request at a time, {args.samples} per arm (ms p50):")
    for name, value in p50.items():
        print(f"  {name:16s} {value:7.2f}")
    added_base = p50["gateway base"] - p50["direct base"]
    added_adapter = p50["gateway adapter"] - p50["direct adapter"]
    print(f"  gateway adds (base)    {added_base:6.2f} ms")
    print(
        f"  gateway adds (adapter) {added_adapter:6.2f} ms   target < 2 ms: {'met' if added_adapter < 2 else 'NOT met'}"
    )
    print(
        f"\nbase replica throughput, {args.concurrency} at a time, {args.load} requests x {args.rounds} rounds:"
    )
    print("  (median over rounds [min-max]; tokens per llama-server CPU second is steadier on a shared host)")
    base_rate, base_cpu = statistics.median(rates["base"]), statistics.median(per_cpu["base"])
    for name, values in rates.items():
        rate, cpu = statistics.median(values), statistics.median(per_cpu[name])
        print(
            f"  {name:22s} {rate:7.1f} tokens/s [{min(values):.0f}-{max(values):.0f}] {rate / base_rate:6.1%} of base"
            f"   {cpu:7.1f} tokens/CPU-s {cpu / base_cpu:6.1%} of base"
        )


if __name__ == "__main__":
    main()
