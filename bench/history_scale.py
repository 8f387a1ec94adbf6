"""The history at farm scale: 2,000 GPUs reporting every 5 s, 30 days kept.

    python bench/history_scale.py                          # SQLite in a temp dir
    scripts/with-test-postgres sh -c 'python bench/history_scale.py --db "$RIGSHIFT_TEST_POSTGRES_URL"'
    python bench/history_scale.py --gpus 500 --repeats 50

What it does, on a real database migrated to the latest schema:
1. Ingest: one round of reports (every rig once: all GPUs' readings) through the history's
   rollup, against the baseline of the telemetry hub alone (what ingest cost before history).
2. Steady state after 30 days: every series the farm has (per GPU, per rig, per site, the farm)
   holds exactly what retention keeps (1-minute points for 2 h, 15-minute for 2 days, hourly for
   31 days). Written in bulk (COPY / executemany): the rows are the ones the server would have
   written, only faster to produce. Storage: the history tables' bytes, per GPU and per GPU-day.
3. Flushes at steady state: 30 s of reports (6 per rig) rolled up and merged into the tables,
   each tier's write timed (the 1-minute tier every flush, the 15-minute and hourly every 10th
   and 30th).
4. The 24 h whole-farm chart: `GET /admin/history?series=site.power_w&range=24h` over HTTP
   against the real server (median and p95 of `--repeats`), beside `GET /healthz` (the floor of
   an HTTP round trip) and beside summing the per-GPU series at query time (the design the
   pre-aggregated farm series avoids). Target: under 300 ms.
5. One prune pass (run every 10 min) over the whole table.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select, text

from rigshift.run.contracts import GpuTelemetry, RigTelemetry
from rigshift.server.app import create_app
from rigshift.server.db import open_engine
from rigshift.server.history_farm import telemetry_samples
from rigshift.server.history_rollup import Rollup
from rigshift.server.history_series import ALL, GPU_STATES, RESOLUTIONS, RETENTION_S, bucket_of, gpu_subject
from rigshift.server.services.history import WRITE_EVERY
from rigshift.server.serving import serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.history import HistoryStore
from rigshift.server.stores.keys import KeyStore
from rigshift.server.stores.telemetry import TelemetryHub
from rigshift.server.tables import history_points, history_series

GPUS_PER_RIG = 8
SITES = 4
DAYS = 30


def rigs(gpus: int) -> list[str]:
    return [f"rig-{i:04d}" for i in range((gpus + GPUS_PER_RIG - 1) // GPUS_PER_RIG)]


def report(rig: str, at: float, count: int = GPUS_PER_RIG) -> RigTelemetry:
    gpus = [
        GpuTelemetry(
            index=i,
            model="rtx-3060-12g",
            temperature_c=60 + i,
            power_w=110.0 + i,
            power_limit_w=170.0,
            utilization_pct=95.0,
            memory_used_gib=5.0,
            memory_total_gib=12.0,
        )
        for i in range(count)
    ]
    return RigTelemetry(rig=rig, timestamp=at, gpus=gpus)


def series_keys(rig_names: list[str]) -> list[tuple[str, str]]:
    """Every (series, subject) the farm's telemetry and snapshots fill."""
    keys = []
    for rig in rig_names:
        for i in range(GPUS_PER_RIG):
            keys += [
                (f"gpu.{f}", gpu_subject(rig, i))
                for f in ("power_w", "temperature_c", "utilization_pct", "vram_used_gib")
            ]
        keys += [(f"rig.{f}", rig) for f in ("power_w", "temperature_c", "utilization_pct", "vram_used_gib")]
        keys += [(f"rig.gpus_{s}", rig) for s in GPU_STATES]
    for site in [*(f"site-{i}" for i in range(SITES)), ALL]:
        keys += [("site.power_w", site), ("site.price_usd_per_kwh", site), ("site.cost_usd_per_h", site)]
        keys += [(f"site.gpus_{s}", site) for s in GPU_STATES]
    return keys


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(ordered):8.2f} ms   p95 {p95:8.2f} ms"


def steady_rows(ids: list[int], now: float) -> Iterator[tuple[int, int, int, float, float, float, float]]:
    """What retention keeps of each series after 30 days: (series_id, resolution, bucket, n, total, lo, hi)."""
    for resolution in RESOLUTIONS:
        keep = min(RETENTION_S[resolution], DAYS * 86400)
        first = bucket_of(now - keep, resolution) + resolution
        buckets = range(first, bucket_of(now, resolution) + 1, resolution)
        n = resolution / 5.0  # a report every 5 s
        for sid in ids:
            value = 100.0 + sid % 50
            for b in buckets:
                yield sid, resolution, b, n, value * n, value - 5, value + 5


def bulk_load(engine: Engine, rows: Iterator[tuple[int, int, int, float, float, float, float]]) -> int:
    count = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            columns = "series_id, resolution, bucket, n, total, lo, hi"
            with cursor.copy(f"COPY history_points ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        else:
            batch: list[tuple[int, int, int, float, float, float, float]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == 100_000:
                    cursor.executemany("INSERT INTO history_points VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
                    count += len(batch)
                    batch = []
            cursor.executemany("INSERT INTO history_points VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
            count += len(batch)
        raw.commit()
    finally:
        raw.close()
    return count


def history_bytes(engine: Engine, db_file: Path | None) -> int:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return int(
                conn.execute(
                    text(
                        "SELECT pg_total_relation_size('history_points') + pg_total_relation_size('history_series')"
                    )
                ).scalar_one()
            )
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        try:  # dbstat: the tables' and indexes' pages exactly, where SQLite has it compiled in
            used = conn.execute(
                text("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE '%history%'")
            ).scalar_one()
            return int(used)
        except Exception:
            assert db_file is not None
            return db_file.stat().st_size


def farm_sum_at_query_time(engine: Engine, since: float) -> int:
    """The 24 h farm power summed over every GPU's 15-minute points (what pre-aggregation avoids)."""
    query = (
        select(history_points.c.bucket, func.sum(history_points.c.total / history_points.c.n))
        .join(history_series, history_series.c.id == history_points.c.series_id)
        .where(
            history_series.c.name == "gpu.power_w",
            history_points.c.resolution == 900,
            history_points.c.bucket >= since,
        )
        .group_by(history_points.c.bucket)
    )
    with engine.connect() as conn:
        return len(conn.execute(query).all())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gpus", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--db", help="database URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rigshift-history-"))
    db_file = None if args.db else tmp / "history.db"
    engine = open_engine(args.db or str(db_file))
    now = time.time()
    names = rigs(args.gpus)
    gpus = len(names) * GPUS_PER_RIG
    print(
        f"history at scale on {engine.dialect.name}: {gpus} GPUs on {len(names)} rigs, every 5 s, {DAYS} days"
    )

    # 1. Ingest: one round of every rig's report.
    reports = [report(rig, now) for rig in names]
    hub = TelemetryHub()
    rollup = Rollup()

    def hub_only() -> None:
        for r in reports:
            hub.ingest(r, now)

    base = timed(hub_only, args.repeats)

    def with_history() -> None:
        for r in reports:
            hub.ingest(r, now)
            for series, subject, value in telemetry_samples(r):
                rollup.add(series, subject, value, now)

    both = timed(with_history, args.repeats)
    rollup.take(now + 86400 * 2)
    print(f"  ingest, one round ({gpus} GPUs)   baseline hub only {ms(base)}")
    print(f"                                  hub + history      {ms(both)}")
    per_s = statistics.median(both) / 5.0 / 10  # ms of CPU per second of wall time, in percent
    print(f"    = {per_s:.2f}% of one core at a report every 5 s")

    # 2. Steady state after 30 days.
    store = HistoryStore(engine)
    keys = series_keys(names)
    started = time.perf_counter()
    ids = list(store.series_ids(keys).values())
    rows = bulk_load(engine, steady_rows(ids, now))
    load_s = time.perf_counter() - started
    size = history_bytes(engine, db_file)
    print(f"  steady state: {len(ids):,} series, {rows:,} points (bulk-loaded in {load_s:.0f} s)")
    print(
        f"  storage: {size / 1e6:,.0f} MB in all = {size / gpus / 1e3:,.0f} kB per GPU (bounded: retention)"
        f" = {size / gpus / DAYS / 1e3:,.1f} kB per GPU-day of the {DAYS}-day window"
    )

    # 3. One flush at steady state: 30 s of reports.
    for k in range(6):
        for r in reports:
            for series, subject, value in telemetry_samples(r):
                rollup.add(series, subject, value, now + 5 * k)
    mean_ms = 0.0
    for resolution in RESOLUTIONS:
        points = rollup.take(now + 30, [resolution])
        flush = timed(functools.partial(store.write, points), 3)
        every = WRITE_EVERY[resolution]
        mean_ms += statistics.median(flush) / every
        print(
            f"  flush of the {resolution // 60}-min tier, every {every} flush(es): {len(points):,} points   {ms(flush)}"
        )
    print(f"    = {mean_ms:,.0f} ms of database work per flush on average (one flush every 30 s)")

    # 4. The 24 h farm chart over HTTP, against the floor of an HTTP round trip.
    _key, admin = KeyStore(engine).create("bench", now=now, admin=True)
    server = serve_in_thread(create_app(StaticDirectory([]), ServerSettings(join_token="t"), engine=engine))
    try:
        with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {admin}"}) as client:
            params = {"series": "site.power_w", "range": "24h"}
            answer = client.get("/admin/history", params=params)
            assert answer.status_code == 200, answer.text
            chart = timed(
                lambda: client.get("/admin/history", params=params).raise_for_status(), args.repeats
            )
            month = timed(
                lambda: client.get(
                    "/admin/history", params={"series": "site.power_w", "range": "30d"}
                ).raise_for_status(),
                args.repeats,
            )
            floor = timed(lambda: client.get("/healthz").raise_for_status(), args.repeats)
        print(f"  baseline GET /healthz                        {ms(floor)}")
        print(f"  24 h farm power chart ({len(answer.json()['points'])} points)      {ms(chart)}")
        print(f"  30 d farm power chart                        {ms(month)}")
        verdict = "meets" if statistics.median(chart) < 300 else "MISSES"
        print(f"  target: 24 h whole-farm chart < 300 ms: {verdict}")
    finally:
        server.stop()
    summed = timed(lambda: farm_sum_at_query_time(engine, now - 86400), max(3, args.repeats // 10))
    print(f"  for comparison, summing {gpus} GPUs' series at query time {ms(summed)}")

    # 5. One prune pass over everything (nothing is old enough to go: the cost of looking).
    cutoffs = {res: now - keep for res, keep in RETENTION_S.items()}
    prune = timed(lambda: store.prune(cutoffs), 1)
    print(f"  one prune pass over {len(ids):,} series   {ms(prune)}")


if __name__ == "__main__":
    main()
