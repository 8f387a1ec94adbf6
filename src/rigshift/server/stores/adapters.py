"""Tenants' LoRA adapters: one row per uploaded adapter (the bytes live in the model store).

Every tenant-facing query takes the owner's key id, so one tenant never sees another's adapter;
`for_base` is the data plane's view (every adapter a replica of that base loads).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Engine, Float, Index, Integer, String, Table, select

from rigshift.storage.schema import metadata

adapters = Table(
    "adapters",
    metadata,
    Column("id", String(320), primary_key=True),  # "ft:BASE:TENANT::ID", what clients send as model
    Column("key_id", String(32), nullable=False),  # the owner
    Column("base_model", String(256), nullable=False),
    Column("file_name", String(255), nullable=False),  # in the model store
    Column("bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("alpha", Float, nullable=False),
    Column("rank", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_adapters_base", "base_model", "created_at"),
    Index("ix_adapters_key", "key_id", "created_at"),
)


@dataclass(frozen=True)
class Adapter:
    id: str
    key_id: str
    base_model: str
    file_name: str
    bytes: int
    sha256: str
    alpha: float
    rank: int
    created_at: float


class AdapterStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def add(self, adapter: Adapter) -> None:
        with self.engine.begin() as conn:
            conn.execute(adapters.insert().values(**adapter.__dict__))

    def owned_by(self, key_id: str) -> list[Adapter]:
        return self._select(adapters.c.key_id == key_id)

    def get(self, adapter_id: str, key_id: str) -> Adapter | None:
        found = self._select((adapters.c.id == adapter_id) & (adapters.c.key_id == key_id))
        return found[0] if found else None

    def every(self) -> list[Adapter]:
        """Every tenant's adapters, oldest first (the gateway's and the data plane's view)."""
        return self._select(None)

    def delete(self, adapter_id: str, key_id: str) -> bool:
        with self.engine.begin() as conn:
            gone = conn.execute(
                adapters.delete().where((adapters.c.id == adapter_id) & (adapters.c.key_id == key_id))
            )
        return gone.rowcount > 0

    def _select(self, where: object) -> list[Adapter]:
        query = select(adapters).order_by(adapters.c.created_at, adapters.c.id)
        if where is not None:
            query = query.where(where)  # type: ignore[arg-type]
        with self.engine.connect() as conn:
            return [Adapter(**row._mapping) for row in conn.execute(query)]
