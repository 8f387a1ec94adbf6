"""Usage records: one per request, committed before the response completes; and reports over them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, NamedTuple

from sqlalchemy import Connection, Engine, Table, case, func, insert, select

from rigshift.errors import InputError
from rigshift.server.metering import TokenPrices, revenue_per_gpu_day
from rigshift.server.stores import EngineStore
from rigshift.server.tables import usage_records
from rigshift.suggest import did_you_mean

GroupBy = Literal["key", "model", "rig"]
GROUP_COLUMNS = {"key": usage_records.c.key_id, "model": usage_records.c.model, "rig": usage_records.c.rig}


@dataclass(frozen=True)
class UsageRecord:
    id: str
    created_at: float
    key_id: str
    endpoint: str
    model: str
    replica_id: str
    rig: str
    gpus: tuple[str, ...]
    prompt_tokens: int
    completion_tokens: int
    duration_ms: float
    energy_wh: float
    status: int
    tokens_source: str = "backend"  # "backend", "counted" (by the gateway) or "estimated"
    batch_id: str | None = None  # a Batch API line: billed at the batch price

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_row(self) -> dict[str, object]:
        row = asdict(self)
        row["gpus"] = ",".join(self.gpus)
        return row


class ReportRow(NamedTuple):
    """One usage record, only the columns the report folds (a tuple: reports read many of these)."""

    created_at: float
    key_id: str
    model: str
    replica_id: str
    gpus: str  # comma-separated, as stored
    prompt_tokens: int
    completion_tokens: int
    duration_ms: float
    energy_wh: float
    status: int


@dataclass(frozen=True)
class UsageSummary:
    group: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    energy_wh: float
    revenue_usd: float
    gpus: int
    revenue_per_gpu_day_usd: float | None


class UsageStore(EngineStore):
    def insert_many(self, records: Sequence[UsageRecord], connection: Connection | None = None) -> None:
        """One transaction for the batch: it is committed (durable) when this returns.

        `connection`: a long-lived connection of the caller's (the gateway's writer), which saves
        a pool checkout per batch; without it, one is taken from the pool.
        """
        insert_committed(self.engine, usage_records, [r.to_row() for r in records], connection)

    def tokens_since(self, key_id: str, since: float) -> int:
        total = func.coalesce(func.sum(usage_records.c.prompt_tokens + usage_records.c.completion_tokens), 0)
        query = select(total).where(usage_records.c.key_id == key_id, usage_records.c.created_at >= since)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(usage_records)).scalar_one())

    def report_rows(self, *, since: float, key_id: str | None = None) -> list[ReportRow]:
        """The columns the multi-dimension report folds, for records at or after `since`."""
        columns = (
            usage_records.c.created_at,
            usage_records.c.key_id,
            usage_records.c.model,
            usage_records.c.replica_id,
            usage_records.c.gpus,
            usage_records.c.prompt_tokens,
            usage_records.c.completion_tokens,
            usage_records.c.duration_ms,
            usage_records.c.energy_wh,
            usage_records.c.status,
        )
        query = select(*columns).where(usage_records.c.created_at >= since)
        if key_id is not None:
            query = query.where(usage_records.c.key_id == key_id)
        with self.engine.connect() as conn:
            return [ReportRow._make(row) for row in conn.execute(query)]

    def records(
        self, *, key_id: str | None = None, since: float | None = None, limit: int = 1000
    ) -> list[UsageRecord]:
        query = select(usage_records).order_by(usage_records.c.created_at.desc()).limit(limit)
        if key_id is not None:
            query = query.where(usage_records.c.key_id == key_id)
        if since is not None:
            query = query.where(usage_records.c.created_at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            UsageRecord(**{**r._mapping, "gpus": tuple(g for g in r._mapping["gpus"].split(",") if g)})
            for r in rows
        ]

    def summarise(
        self,
        by: str,
        prices: TokenPrices,
        *,
        since: float | None = None,
        until: float | None = None,
        key_id: str | None = None,
        now: float,
    ) -> list[UsageSummary]:
        """Totals per key, model or rig, with revenue and revenue per GPU per day of the window."""
        if by not in GROUP_COLUMNS:
            raise InputError(
                f"cannot group usage by {by!r}",
                field="--by",
                expected="key, model or rig",
                suggestions=did_you_mean(by, GROUP_COLUMNS),
            )
        column = GROUP_COLUMNS[by]
        is_batch = usage_records.c.batch_id.is_not(None)
        query = select(
            column.label("group"),
            usage_records.c.gpus,
            func.count().label("requests"),
            func.sum(usage_records.c.prompt_tokens).label("prompt"),
            func.sum(usage_records.c.completion_tokens).label("completion"),
            func.sum(usage_records.c.energy_wh).label("energy"),
            func.sum(case((is_batch, usage_records.c.prompt_tokens), else_=0)).label("batch_prompt"),
            func.sum(case((is_batch, usage_records.c.completion_tokens), else_=0)).label("batch_completion"),
            func.min(usage_records.c.created_at).label("first"),
        ).group_by(column, usage_records.c.gpus)
        if since is not None:
            query = query.where(usage_records.c.created_at >= since)
        if until is not None:
            query = query.where(usage_records.c.created_at < until)
        if key_id is not None:
            query = query.where(usage_records.c.key_id == key_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        # Fold the (group, gpu set) rows in Python: the distinct-GPU count needs the split lists.
        acc: dict[str, _Totals] = {}
        for r in rows:
            t = acc.setdefault(r.group, _Totals(first=float(r.first)))
            t.requests += int(r.requests)
            t.prompt += int(r.prompt or 0)
            t.completion += int(r.completion or 0)
            t.energy += float(r.energy or 0.0)
            t.batch_prompt += int(r.batch_prompt or 0)
            t.batch_completion += int(r.batch_completion or 0)
            t.first = min(t.first, float(r.first))
            t.gpus.update(g for g in (r.gpus or "").split(",") if g)
        end = until if until is not None else now
        out = []
        for group, t in sorted(acc.items()):
            revenue = prices.revenue_usd(
                t.prompt - t.batch_prompt, t.completion - t.batch_completion
            ) + prices.batch_revenue_usd(t.batch_prompt, t.batch_completion)
            start = since if since is not None else t.first
            # A window shorter than an hour would inflate "per day" figures into nonsense.
            window = max(end - start, 3600.0)
            out.append(
                UsageSummary(
                    group=group,
                    requests=t.requests,
                    prompt_tokens=t.prompt,
                    completion_tokens=t.completion,
                    energy_wh=t.energy,
                    revenue_usd=revenue,
                    gpus=len(t.gpus),
                    revenue_per_gpu_day_usd=revenue_per_gpu_day(revenue, t.gpus, window),
                )
            )
        return out


@dataclass
class _Totals:
    first: float
    requests: int = 0
    prompt: int = 0
    completion: int = 0
    energy: float = 0.0
    batch_prompt: int = 0
    batch_completion: int = 0
    gpus: set[str] = field(default_factory=set)


def insert_committed(
    engine: Engine, table: Table, rows: list[dict[str, Any]], connection: Connection | None = None
) -> None:
    """Insert `rows` in one transaction, committed when this returns: on `connection` (a writer's
    long-lived one, `usage_writer`) when given, else on a connection from the pool."""
    if not rows:
        return
    if connection is None:
        with engine.begin() as conn:
            conn.execute(insert(table), rows)
        return
    try:
        connection.execute(insert(table), rows)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
