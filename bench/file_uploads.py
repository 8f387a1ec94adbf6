"""Server memory and event-loop stalls of Batch API uploads, and of a batch over a large file.

    python bench/file_uploads.py                            # 8 parallel ~98 MB uploads
    python bench/file_uploads.py --parallel 4 --lines 10000 # smaller (about 20 MB a file)

Runs `rigshift server --no-ray` (its own process, SQLite in a temp dir) twice with the same load:
this tree's `src/` and, as the baseline, `--baseline-rev` (default: the commit before uploads went
to a file store), extracted with `git archive`. For each server:

- peak RSS (VmHWM from /proc) while `--parallel` clients (`curl -F`, separate processes) upload
  one JSONL file of `--lines` requests (~2 KB each: 50,000 lines is OpenAI's per-batch limit and
  about 98 MB) at once;
- the worst and 99th-percentile latency of `GET /healthz`, polled back to back, while those
  uploads run, and then while a batch over one of the files is created and the runner picks it up;
- the size of the database and of the file directory after the uploads and after deleting every
  file (the database used to keep the bytes and never shrank).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-join-token"
DEFAULT_BASELINE = "037a86f"  # the tree before the file store (issue 19, item 3)


def write_batch_file(path: Path, lines: int) -> None:
    padding = "x" * 1800
    with path.open("w") as f:
        for i in range(lines):
            body = {
                "model": "tiny",
                "messages": [{"role": "user", "content": f"{i} {padding}"}],
                "max_tokens": 16,
            }
            f.write(
                json.dumps(
                    {"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}
                )
            )
            f.write("\n")


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


class Probe:
    """`GET /healthz` back to back in a thread; the latencies of each window."""

    def __init__(self, url: str):
        self.url = url
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                client.get(self.url + "/healthz")
                self.samples.append(time.perf_counter() - started)
                time.sleep(0.01)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        ordered = sorted(self.samples)
        if not ordered:
            return "no samples"
        p50 = ordered[len(ordered) // 2]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (
            f"worst {ordered[-1] * 1000:6.0f} ms, p99 {p99 * 1000:5.0f} ms, median {p50 * 1000:4.0f} ms "
            f"({len(ordered)} probes)"
        )


def run_server(src: Path, tmp: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONUNBUFFERED": "1", "XDG_DATA_HOME": str(tmp / "xdg")}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rigshift.cli.app",
            "server",
            "--port",
            str(port),
            "--db",
            str(tmp / "bench.db"),
            "--join-token",
            TOKEN,
            "--no-ray",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert server.stdout is not None
    key = ""
    deadline = time.monotonic() + 120
    while not key and time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line:
            raise SystemExit(f"server from {src} exited before printing its admin key")
        if "admin key" in line:
            key = line.rsplit(" ", 1)[1].strip()
    threading.Thread(target=server.stdout.read, daemon=True).start()  # drain the rest
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                return server, key
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("server did not answer /healthz")


def measure(label: str, src: Path, batch_file: Path, parallel: int, port: int, hold_s: float) -> None:
    with tempfile.TemporaryDirectory(prefix="rs-files-bench-") as tmp_name:
        tmp = Path(tmp_name)
        server, key = run_server(src, tmp, port)
        url = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {key}"}
        try:
            idle_kib = status_kib(server.pid, "VmRSS")
            started = time.monotonic()
            with Probe(url) as upload_probe:
                uploads = [
                    subprocess.Popen(
                        [
                            "curl",
                            "-s",
                            "-H",
                            f"Authorization: Bearer {key}",
                            "-F",
                            "purpose=batch",
                            "-F",
                            f"file=@{batch_file}",
                            url + "/v1/files",
                        ],
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                    for _ in range(parallel)
                ]
                answers = [json.loads(p.communicate()[0]) for p in uploads]
            upload_s = time.monotonic() - started
            ids = [a["id"] for a in answers if "id" in a]
            peak_kib = status_kib(server.pid, "VmHWM")
            db, files_dir = tmp / "bench.db", tmp / "files"
            db_after_upload = size_of(db) + size_of(Path(f"{db}-wal"))
            dir_after_upload = size_of(files_dir)
            with Probe(url) as batch_probe:
                created = httpx.post(
                    url + "/v1/batches",
                    headers=auth,
                    json={
                        "input_file_id": ids[0],
                        "endpoint": "/v1/chat/completions",
                        "completion_window": "24h",
                    },
                    timeout=120,
                ).json()
                time.sleep(hold_s)  # the runner picks the batch up within its 1 s poll
            httpx.post(f"{url}/v1/batches/{created['id']}/cancel", headers=auth, timeout=60)
            for file_id in ids:
                httpx.delete(f"{url}/v1/files/{file_id}", headers=auth, timeout=60)
            time.sleep(1.0)
            db_after_delete = size_of(db) + size_of(Path(f"{db}-wal"))
            dir_after_delete = size_of(files_dir)
        finally:
            server.terminate()
            server.wait(30)
    mb = 1e6
    print(f"{label}:")
    print(
        f"  uploads stored:            {len(ids)} of {parallel} ({batch_file.stat().st_size / mb:.1f} MB each) "
        f"in {upload_s:.1f} s"
    )
    print(f"  server RSS idle -> peak:   {idle_kib / 1024:.0f} MiB -> {peak_kib / 1024:.0f} MiB")
    print(f"  /healthz during uploads:   {upload_probe.summary()}")
    print(f"  /healthz during the batch: {batch_probe.summary()} (batch {created.get('status')})")
    print(
        f"  after uploads:             database {db_after_upload / mb:7.1f} MB, file directory {dir_after_upload / mb:7.1f} MB"
    )
    print(
        f"  after deleting them all:   database {db_after_delete / mb:7.1f} MB, file directory {dir_after_delete / mb:7.1f} MB"
    )


def baseline_src(rev: str, into: Path) -> Path:
    archive = into / "baseline.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--lines", type=int, default=50_000, help="requests in the file (~1.96 KB each)")
    parser.add_argument("--hold", type=float, default=6.0, help="seconds probed after the batch is created")
    parser.add_argument("--baseline-rev", default=DEFAULT_BASELINE)
    parser.add_argument("--port", type=int, default=18741)
    parser.add_argument("--no-baseline", action="store_true", help="measure this tree only")
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("this benchmark uploads with curl; install it")
    with tempfile.TemporaryDirectory(prefix="rs-files-bench-src-") as work_name:
        work = Path(work_name)
        batch_file = work / "requests.jsonl"
        write_batch_file(batch_file, args.lines)
        print(
            f"{args.parallel} parallel uploads of {batch_file.stat().st_size / 1e6:.1f} MB, then a batch over one"
        )
        measure("this tree", ROOT / "src", batch_file, args.parallel, args.port, args.hold)
        if args.no_baseline:
            return
        old = baseline_src(args.baseline_rev, work)
        measure(f"baseline ({args.baseline_rev})", old, batch_file, args.parallel, args.port + 1, args.hold)


if __name__ == "__main__":
    main()
