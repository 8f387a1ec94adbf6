"""Cost of the gateway's strict body check: `loads_strict` + `read_fields` vs plain `json.loads`.

    python bench/strict_json.py            # typical chat bodies, 20,000 parses each

The gateway parses every request body once; before issue 13 with `json.loads` (which accepts
NaN, 1e400 and lone surrogates), now with `strict_json.loads_strict` (one extra pass over the
parsed value: depth, finite numbers, 64-bit integers, valid Unicode) and `openai_body.read_fields`.
Both are timed here in the same run, on the same bodies: the baseline and the new cost side by side.
"""

from __future__ import annotations

import argparse
import json
import time

from rigshift.server.openai_body import read_fields
from rigshift.server.strict_json import loads_strict

BODIES = {
    "short chat (1 message)": {
        "model": "llama-3.1-8b",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "max_tokens": 64,
    },
    "chat, 12 turns, 6 KB": {
        "model": "llama-3.1-8b",
        "messages": [
            {"role": "user" if i % 2 == 0 else "assistant", "content": "some words here " * 30}
            for i in range(12)
        ],
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 256,
        "stream": True,
        "stream_options": {"include_usage": True},
    },
    "chat with tools (JSON schema)": {
        "model": "llama-3.1-8b",
        "messages": [{"role": "user", "content": "weather in Paris?"}],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": f"tool_{i}",
                    "parameters": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
                        "required": ["city"],
                    },
                },
            }
            for i in range(8)
        ],
    },
}


def per_call_us(fn, raw: bytes, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn(raw)
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()
    print(f"{'body':32} {'bytes':>6} {'json.loads us':>14} {'strict us':>10} {'added us':>9}")
    for name, body in BODIES.items():
        raw = json.dumps(body).encode()
        baseline = min(per_call_us(json.loads, raw, args.n) for _ in range(3))
        strict = min(
            per_call_us(lambda r: read_fields(loads_strict(r), "chat"), raw, args.n) for _ in range(3)
        )
        print(f"{name:32} {len(raw):6d} {baseline:14.1f} {strict:10.1f} {strict - baseline:9.1f}")


if __name__ == "__main__":
    main()
