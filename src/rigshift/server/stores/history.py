"""History points in the database: written in pieces that add up, read one series at a time.

A point written again (the next flush of the same open bucket, or the same bucket after a
restart) is merged with the stored one: counts and sums add, min and max widen. Percentiles are
replaced instead (`Point.replace`). Both SQLite and PostgreSQL say this with
`INSERT … ON CONFLICT DO UPDATE` (on PostgreSQL from rows COPYed into a temporary table).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from rigshift.server.history_rollup import Point
from rigshift.server.tables import history_points, history_series

_CHUNK = 500  # series per statement when pruning or registering (bound-parameter limits)
# Points per transaction: a farm's flush (~30,000 points at 2,000 GPUs) holds SQLite's write lock
# for a few tens of milliseconds at a time, not the whole flush (the usage writer waits on it).
WRITE_CHUNK = 5000
_COLUMNS = ("series_id", "resolution", "bucket", "n", "total", "lo", "hi")
_MERGE = (
    "n = history_points.n + EXCLUDED.n, total = history_points.total + EXCLUDED.total, "
    "lo = LEAST(history_points.lo, EXCLUDED.lo), hi = GREATEST(history_points.hi, EXCLUDED.hi)"
)
_REPLACE = "n = EXCLUDED.n, total = EXCLUDED.total, lo = EXCLUDED.lo, hi = EXCLUDED.hi"


class HistoryStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._ids: dict[tuple[str, str], int] | None = None
        self._lock = threading.Lock()  # the id cache is filled from worker threads

    def _insert(self) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert

    def series_ids(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The id of each (name, subject), registering the new ones."""
        with self._lock:
            if self._ids is None:
                with self.engine.connect() as conn:
                    rows = conn.execute(
                        select(history_series.c.name, history_series.c.subject, history_series.c.id)
                    )
                    self._ids = {(name, subject): sid for name, subject, sid in rows}
            ids = self._ids
            new = sorted({k for k in keys if k not in ids})
            for start in range(0, len(new), _CHUNK):
                chunk = new[start : start + _CHUNK]
                with self.engine.begin() as conn:
                    conn.execute(
                        self._insert()(history_series).on_conflict_do_nothing(),
                        [{"name": n, "subject": s} for n, s in chunk],
                    )
                    found = conn.execute(
                        select(history_series.c.name, history_series.c.subject, history_series.c.id).where(
                            tuple_(history_series.c.name, history_series.c.subject).in_(chunk)
                        )
                    )
                    ids.update({(name, subject): sid for name, subject, sid in found})
            return ids

    def write(self, points: Sequence[Point]) -> None:
        """Merge `points` into the stored ones, `WRITE_CHUNK` points per transaction."""
        if not points:
            return
        ids = self.series_ids((p.series, p.subject) for p in points)
        # In primary-key order: neighbouring upserts touch the same B-tree pages (measured 2-3x
        # faster on a 10-million-point table, bench/history_scale.py).
        ordered = sorted(points, key=lambda p: (ids[(p.series, p.subject)], p.resolution, p.bucket))
        for start in range(0, len(ordered), WRITE_CHUNK):
            self._write(ordered[start : start + WRITE_CHUNK], ids)

    def _write(self, points: Sequence[Point], ids: dict[tuple[str, str], int]) -> None:
        added: list[dict[str, Any]] = []
        replaced: list[dict[str, Any]] = []
        for p in points:
            row = {
                "series_id": ids[(p.series, p.subject)],
                "resolution": p.resolution,
                "bucket": p.bucket,
                "n": p.n,
                "total": p.total,
                "lo": p.lo,
                "hi": p.hi,
            }
            (replaced if p.replace else added).append(row)
        with self.engine.begin() as conn:
            if added:
                self._upsert(conn, added, replace=False)
            if replaced:
                self._upsert(conn, replaced, replace=True)

    def _upsert(self, conn: Connection, rows: list[dict[str, Any]], *, replace: bool) -> None:
        """INSERT … ON CONFLICT DO UPDATE. PostgreSQL: the rows are COPYed into a temporary table
        and merged by one INSERT … SELECT (3x faster than a statement per row,
        bench/history_scale.py); SQLite: one prepared statement run per row (no round trips)."""
        if self.engine.dialect.name == "postgresql":
            self._copy_upsert(conn, rows, replace=replace)
            return
        t = history_points
        stmt = sqlite.insert(t)
        new = stmt.excluded
        merge: dict[str, Any]
        if replace:
            merge = {"n": new.n, "total": new.total, "lo": new.lo, "hi": new.hi}
        else:
            merge = {
                "n": t.c.n + new.n,
                "total": t.c.total + new.total,
                "lo": case((new.lo < t.c.lo, new.lo), else_=t.c.lo),
                "hi": case((new.hi > t.c.hi, new.hi), else_=t.c.hi),
            }
        upsert = stmt.on_conflict_do_update(
            index_elements=[t.c.series_id, t.c.resolution, t.c.bucket], set_=merge
        )
        conn.execute(upsert, rows)

    def _copy_upsert(self, conn: Connection, rows: list[dict[str, Any]], *, replace: bool) -> None:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS history_incoming (LIKE history_points) ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE history_incoming")
        with cursor.copy(f"COPY history_incoming ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in _COLUMNS))
        merge = _REPLACE if replace else _MERGE
        cursor.execute(
            f"INSERT INTO history_points ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)} FROM history_incoming "
            f"ORDER BY series_id, resolution, bucket ON CONFLICT (series_id, resolution, bucket) DO UPDATE SET {merge}"
        )

    def points(
        self, name: str, subject: str, resolution: int, since: float
    ) -> list[tuple[int, float, float, float, float]]:
        """(bucket, n, total, lo, hi) of one series at one resolution from `since`, oldest first."""
        t = history_points
        query = (
            select(t.c.bucket, t.c.n, t.c.total, t.c.lo, t.c.hi)
            .join(history_series, history_series.c.id == t.c.series_id)
            .where(
                history_series.c.name == name,
                history_series.c.subject == subject,
                t.c.resolution == resolution,
                t.c.bucket >= int(since),
            )
            .order_by(t.c.bucket)
        )
        with self.engine.connect() as conn:
            return [(r[0], r[1], r[2], r[3], r[4]) for r in conn.execute(query)]

    def subjects(self, name: str, limit: int) -> list[str]:
        """The subjects `name` has points for (sorted; at most `limit`)."""
        query = (
            select(history_series.c.subject)
            .where(history_series.c.name == name)
            .order_by(history_series.c.subject)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def prune(self, cutoffs: dict[int, float]) -> int:
        """Delete the points older than each resolution's cutoff; returns how many went.
        One statement per chunk of series, each a range of the primary key (no table scan)."""
        with self.engine.connect() as conn:
            ids = list(conn.execute(select(history_series.c.id)).scalars())
        deleted = 0
        t = history_points
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            old = [and_(t.c.resolution == res, t.c.bucket < int(cut)) for res, cut in cutoffs.items()]
            with self.engine.begin() as conn:
                for condition in old:
                    deleted += conn.execute(delete(t).where(t.c.series_id.in_(chunk), condition)).rowcount
        return deleted
