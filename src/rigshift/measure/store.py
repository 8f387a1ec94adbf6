"""The measurements table: llama-bench results stored, listed and filtered. Rows stay in here.

The analysis commands read it (measure/calibrate.py) and the server writes it; it sits below both,
on rigshift.storage's MetaData (the Alembic migrations in server/migrations create it)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, Engine, Float, Index, Integer, String, Table, Text, delete, insert, select

from rigshift.measure.types import IMPORT_IDENTITY as _IDENTITY
from rigshift.measure.types import Measurement
from rigshift.storage.schema import metadata

# llama-bench results, one row per (card, test): `rigshift bench` and `rigshift bench import`
# write them, the estimator's calibration reads them (rigshift.measure).
measurements = Table(
    "measurements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("measured_at", Float, nullable=False),
    Column("card_key", String(200), nullable=False),  # GPU catalog key, or "host-cpu"
    Column("card_name", String(300), nullable=False),  # as the runtime reported it
    Column("vram_gib", Float, nullable=True),
    Column("card_uuid", String(200), nullable=True),
    Column("rig", String(200), nullable=True),
    Column("driver", String(200), nullable=True),
    Column("runtime", String(32), nullable=False),
    Column("runtime_build", String(100), nullable=True),
    Column("power_limit_w", Float, nullable=True),
    Column("pcie_link", String(32), nullable=True),
    Column("model_key", String(200), nullable=False),
    Column("quant", String(32), nullable=False),
    Column("n_prompt", Integer, nullable=False),
    Column("n_gen", Integer, nullable=False),
    Column("n_depth", Integer, nullable=False),
    Column("n_gpu_layers", Integer, nullable=True),
    Column("n_threads", Integer, nullable=True),
    Column("tokens_per_s", Float, nullable=False),
    Column("stddev_tokens_per_s", Float, nullable=False),
    Column("samples_tokens_per_s", Text, nullable=True),  # JSON list, one rate per repetition
    Column("gpu_memory_used_gib", Float, nullable=True),
    Column("source", Text, nullable=False),  # "bench", "import FILE:LINE", "agent RIG"
    Index("ix_measurements_card", "card_key", "runtime"),
)

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
