"""The measurements table: llama-bench results stored, listed and filtered. Rows stay in here."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from rigshift.measure.types import IMPORT_IDENTITY as _IDENTITY
from rigshift.measure.types import Measurement
from rigshift.server.tables import measurements

_COLUMNS = [c.name for c in measurements.columns if c.name != "id"]


def _values(row: Measurement) -> dict[str, Any]:
    """A measurement as the table's columns: the repetitions' rates as a JSON list, NULL for none."""
    values = {name: getattr(row, name) for name in _COLUMNS}
    samples = row.samples_tokens_per_s
    values["samples_tokens_per_s"] = json.dumps(list(samples)) if samples else None
    return values


def _row(values: dict[str, Any]) -> Measurement:
    """A table row as a measurement (rows stored before the samples column have NULL: none)."""
    data = dict(values)
    data["samples_tokens_per_s"] = tuple(json.loads(data.get("samples_tokens_per_s") or "[]"))
    return Measurement(**data)


class MeasurementStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, rows: Iterable[Measurement]) -> list[Measurement]:
        """Store every row in one transaction (all or none); returns the rows stored, with ids.

        An imported row already stored from the same source (the same file and line, the same
        figures) is not stored again: importing a file twice must not make one published result
        count twice in the calibration (and narrow its interval for nothing)."""
        stored = []
        with self._engine.begin() as conn:
            for row in rows:
                values = _values(row)
                if (
                    row.source.startswith("import")
                    and conn.execute(
                        select(measurements.c.id).where(
                            *(measurements.c[name] == values[name] for name in _IDENTITY)
                        )
                    ).first()
                ):
                    continue
                result = conn.execute(insert(measurements).values(**values))
                key = result.inserted_primary_key
                stored.append(_row({**values, "id": int(key[0]) if key else None}))
        return stored

    def list(
        self, *, card_key: str | None = None, runtime: str | None = None, rig: str | None = None
    ) -> list[Measurement]:
        query = select(measurements).order_by(measurements.c.measured_at, measurements.c.id)
        if card_key:
            query = query.where(measurements.c.card_key == card_key)
        if runtime:
            query = query.where(measurements.c.runtime == runtime)
        if rig:
            query = query.where(measurements.c.rig == rig)
        with self._engine.connect() as conn:
            return [_row(dict(row._mapping)) for row in conn.execute(query)]

    def delete(self, ids: Iterable[int]) -> int:
        with self._engine.begin() as conn:
            return conn.execute(delete(measurements).where(measurements.c.id.in_(list(ids)))).rowcount
