"""Set llama.cpp measurements from bench/gpu/llamacpp_check.sh beside rigshift's estimates.

    python bench/gpu/compare.py RESULTS_DIR

Reads gpu.csv, bench-<model>-<quant>.json (llama-bench -o json) and memory-<model>-<quant>.json,
and prints measured vs estimated decode (tg128), prefill (pp512) and GPU memory (llama-server,
context 8192, one slot, flash attention on, as nvidia-smi's used memory).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.models import load_model
from rigshift.estimate import Hardware, Workload, estimate

MIB = 1024**2


def main(results: Path) -> int:
    gpu_name = (results / "gpu.csv").read_text().split(",")[0].strip()
    spec = gpu_catalog().resolve(gpu_name)
    print(f"GPU: {gpu_name} -> {spec.key} ({spec.mem_bandwidth_gbs:.0f} GB/s, {spec.vram_gib:g} GiB)")
    print(f"{'model':28} {'what':16} {'measured':>10} {'estimated':>10} {'error':>7}")
    for bench in sorted(results.glob("bench-*.json")):
        tag = bench.stem.removeprefix("bench-")
        model_key, _, quant = tag.rpartition("-")
        model = load_model(model_key)
        rows = json.loads(bench.read_text())
        measured = {("pp" if r["n_prompt"] else "tg"): r["avg_ts"] for r in rows}
        size = rows[0]["model_size"]
        speed = estimate(
            Workload(model, quant, context=8192, prompt_tokens=512, weights_bytes=size), Hardware.of(spec)
        )
        decode = estimate(
            Workload(model, quant, context=8192, prompt_tokens=64, weights_bytes=size), Hardware.of(spec)
        )
        lines = [
            ("decode tg128", measured.get("tg"), decode.decode_tokens_per_s),
            ("prefill pp512", measured.get("pp"), speed.prefill_tokens_per_s),
        ]
        memory_file = results / f"memory-{tag}.json"
        if memory_file.exists():
            mem = json.loads(memory_file.read_text())
            used_gib = (mem["used_mib"] - mem["baseline_mib"]) * MIB / 1024**3
            lines.append(("memory GiB @8k", used_gib, speed.memory.total))
        for what, got, want in lines:
            if got is None:
                continue
            print(f"{tag:28} {what:16} {got:10.2f} {want:10.2f} {(want - got) / got:+7.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
