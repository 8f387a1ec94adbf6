#!/usr/bin/env bash
# Measure llama.cpp (CUDA) on a real GPU: memory and tokens/s for zero-weight models of catalog
# shapes, to set beside rigshift's estimates (bench/gpu/compare.py does that on any machine).
#
#   bench/gpu/llamacpp_check.sh SRC_TARBALL GGUF_WHEEL SPEC_DIR OUT_DIR
#
# SRC_TARBALL: llama.cpp's source (scripts/build-llama-server caches it; see docs/benchmarks.md),
# SPEC_DIR: one <model>.json per model (`rigshift models --json` entries). Needs nvcc, cmake,
# ninja and python3 with numpy; nothing is downloaded.
set -euo pipefail
SRC_TARBALL=$1 WHEEL=$2 SPECS=$3 OUT=$4
WORK=${WORK:-/tmp/llamacpp-check}
mkdir -p "$WORK" "$OUT"
HERE=$(cd "$(dirname "$0")" && pwd)
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/steps.log"; }

nvidia-smi --query-gpu=name,memory.total,memory.used,power.limit --format=csv,noheader > "$OUT/gpu.csv"
log "gpu: $(cat "$OUT/gpu.csv")"
python3 -m pip install -q --no-deps --no-index --target "$WORK/site" "$WHEEL"
export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"

tar xJf "$SRC_TARBALL" -C "$WORK"
log "configure"
cmake -S "$WORK/src" -B "$WORK/build" -G Ninja -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF \
    -DCMAKE_BUILD_TYPE=Release > "$OUT/cmake.log" 2>&1
log "build"
( cmake --build "$WORK/build" -j "$(nproc)" --target llama-bench llama-server > "$OUT/build.log" 2>&1; echo $? > "$WORK/build.rc" ) &
BUILD=$!

# Make the models while the build runs (disk-bound, the build is CPU-bound).
for spec in "$SPECS"/*.json; do
    name=$(basename "$spec" .json)
    for kind in ${TYPES:-Q4_K_M F16}; do
        [[ "$kind" == F16 && "$name" != "${F16_MODEL:-llama-3.1-8b}" ]] && continue
        python3 "$HERE/zero_gguf.py" --spec "$spec" --type "$kind" --out "$WORK/$name-$kind.gguf"
        log "wrote $name-$kind.gguf $(stat -c %s "$WORK/$name-$kind.gguf") bytes"
    done
done
wait $BUILD
[[ "$(cat "$WORK/build.rc")" == 0 ]] || { log "build failed"; tail -30 "$OUT/build.log"; exit 1; }
log "built"
BIN="$WORK/build/bin"

for model in "$WORK"/*.gguf; do
    tag=$(basename "$model" .gguf)
    log "bench $tag"
    "$BIN/llama-bench" -m "$model" -ngl 99 -fa 1 -p 512 -n 128 -r 3 -o json > "$OUT/bench-$tag.json" 2>> "$OUT/bench.log" ||
        log "llama-bench failed for $tag"
    base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
    "$BIN/llama-server" -m "$model" -ngl 99 -fa on -c 8192 -np 1 --host 127.0.0.1 --port 8097 -v \
        > "$OUT/server-$tag.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 120); do
        python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8097/health', timeout=2)" 2>/dev/null && break
        sleep 1
    done
    used=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
    echo "{\"model\": \"$tag\", \"context\": 8192, \"parallel\": 1, \"baseline_mib\": $base, \"used_mib\": $used}" \
        > "$OUT/memory-$tag.json"
    log "memory $tag: $((used - base)) MiB"
    kill $pid; wait $pid 2>/dev/null || true
    grep -E "buffer size|KV|model size|CUDA0" "$OUT/server-$tag.log" | head -40 > "$OUT/server-$tag.buffers.txt" || true
    rm -f "$OUT/server-$tag.log"
done
log "done"
