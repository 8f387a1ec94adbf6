"""The database: migrations, keys stored hashed, usage reports. Real SQLite, never a mock."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from rigshift.errors import InputError, UnknownNameError
from rigshift.server.db import open_engine
from rigshift.server.metering import TokenPrices
from rigshift.server.stores.keys import KeyStore, hash_key, key_id_of
from rigshift.server.stores.usage import UsageRecord, UsageStore
from rigshift.server.tables import api_keys, metadata


def test_migrations_create_the_schema_the_code_queries_and_rerun_safely(tmp_path):
    path = str(tmp_path / "a.db")
    engine = open_engine(path)
    open_engine(path)  # second start: nothing to do, nothing lost
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_in_memory_databases_are_refused():
    with pytest.raises(InputError, match="in-memory"):
        open_engine("sqlite://")


def test_keys_are_stored_only_as_hashes(engine):
    keys = KeyStore(engine)
    key, secret = keys.create("alice", now=1.0, allowed_models=["tiny"], token_quota=100, rate_limit_rpm=5)
    with engine.connect() as conn:
        row = conn.execute(select(api_keys)).one()._mapping
    assert secret not in [str(v) for v in row.values()]
    assert row["key_hash"] == hash_key(secret) and row["id"] == key_id_of(secret) == key.id
    assert keys.authenticate(secret) == key
    assert keys.authenticate(secret + "x") is None
    assert keys.authenticate("rs-" + key.id + "_guess") is None
    assert key.allows("tiny") and not key.allows("other")


def test_revoke_by_name_or_id_with_did_you_mean(engine):
    keys = KeyStore(engine)
    _, secret = keys.create("alice", now=1.0)
    keys.create("bob", now=2.0)
    with pytest.raises(UnknownNameError) as unknown:
        keys.revoke("alise", now=3.0)
    assert "alice" in unknown.value.suggestions
    revoked = keys.revoke("alice", now=3.0)
    assert revoked.revoked_at == 3.0 and keys.authenticate(secret) is None
    assert [k.name for k in keys.list(include_revoked=False)] == ["bob"]


def test_bad_key_settings_are_input_errors(engine):
    keys = KeyStore(engine)
    with pytest.raises(InputError, match="quota period"):
        keys.create("x", now=1.0, quota_period="week")
    with pytest.raises(InputError, match="negative"):
        keys.create("x", now=1.0, token_quota=-1)


def _record(i: int, key: str, model: str, rig: str, gpus: tuple[str, ...], at: float) -> UsageRecord:
    return UsageRecord(
        id=f"req{i}",
        created_at=at,
        key_id=key,
        endpoint="chat",
        model=model,
        replica_id=f"{rig}-r",
        rig=rig,
        gpus=gpus,
        prompt_tokens=100,
        completion_tokens=400,
        duration_ms=50.0,
        energy_wh=0.5,
        status=200,
    )


def test_usage_summaries_by_key_model_and_rig_with_revenue_per_gpu_day(engine):
    store = UsageStore(engine)
    day = 86400.0
    store.insert_many(
        [
            _record(1, "k1", "llama", "rig-a", ("rig-a/0", "rig-a/1"), 0.0),
            _record(2, "k1", "llama", "rig-a", ("rig-a/0", "rig-a/1"), 10.0),
            _record(3, "k2", "qwen", "rig-b", ("rig-b/0",), 20.0),
        ]
    )
    prices = TokenPrices(prompt_usd_per_mtok=1.0, completion_usd_per_mtok=2.0)  # 900 µ$ per record
    by_rig = {s.group: s for s in store.summarise("rig", prices, since=0.0, now=day)}
    assert by_rig["rig-a"].requests == 2 and by_rig["rig-a"].gpus == 2
    assert by_rig["rig-a"].revenue_usd == pytest.approx(0.0018)
    assert by_rig["rig-a"].revenue_per_gpu_day_usd == pytest.approx(0.0009)
    assert by_rig["rig-b"].revenue_per_gpu_day_usd == pytest.approx(0.0009)
    by_key = store.summarise("key", prices, now=day, key_id="k2")
    assert [(s.group, s.completion_tokens) for s in by_key] == [("k2", 400)]
    assert [s.group for s in store.summarise("model", prices, since=15.0, now=day)] == ["qwen"]
    assert store.tokens_since("k1", 5.0) == 500
    with pytest.raises(InputError, match="did you mean: rig"):
        store.summarise("rigs", prices, now=day)


def test_usage_survives_reopening_the_database(tmp_path):
    path = str(tmp_path / "u.db")
    UsageStore(open_engine(path)).insert_many([_record(1, "k", "m", "r", (), time.time())])
    assert UsageStore(open_engine(path)).count() == 1


@pytest.mark.parametrize("inline", [True, False])
def test_usage_writer_commits_every_record_before_returning(engine, inline):
    import asyncio

    from rigshift.server.stores.usage_writer import UsageWriter

    store = UsageStore(engine)
    writer = UsageWriter(store, inline=inline)
    seen: list[int] = []

    async def one(i: int) -> None:
        await writer.write(_record(i, "k", "m", "r", (), float(i)))
        seen.append(store.count())  # committed: visible to another connection right away

    async def main() -> None:
        await asyncio.gather(*(one(i) for i in range(40)))
        await writer.drain()

    asyncio.run(main())
    assert store.count() == 40
    assert all(n >= 1 for n in seen) and max(seen) == 40


def test_usage_writer_reports_a_failed_commit_to_every_waiter(engine):
    import asyncio

    from rigshift.server.stores.usage_writer import UsageWriter

    writer = UsageWriter(UsageStore(engine), inline=False)
    duplicate = _record(1, "k", "m", "r", (), 1.0)

    async def main() -> list[object]:
        await writer.write(duplicate)
        return await asyncio.gather(writer.write(duplicate), return_exceptions=True)

    (result,) = asyncio.run(main())
    assert isinstance(result, Exception)  # primary key clash: the caller learns, nothing is silent


def test_migrations_render_valid_postgresql_ddl():
    """The PostgreSQL path without a server: the same migrations compile for its dialect."""
    from rigshift.server.db import migration_sql

    sql = migration_sql("postgresql://rigshift@db.example/rigshift")
    for table in metadata.tables:
        assert f"CREATE TABLE {table}" in sql
    assert "DOUBLE PRECISION" in sql or "FLOAT" in sql
    assert "BOOLEAN" in sql  # api_keys.admin: a real boolean on PostgreSQL


@pytest.mark.skipif(
    not __import__("os").environ.get("RIGSHIFT_TEST_POSTGRES_URL"),
    reason="set RIGSHIFT_TEST_POSTGRES_URL=postgresql://… (and pip install 'psycopg[binary]') to run on PostgreSQL",
)
def test_the_same_store_code_on_postgresql():
    import dataclasses
    import os
    import uuid

    engine = open_engine(os.environ["RIGSHIFT_TEST_POSTGRES_URL"])
    keys = KeyStore(engine)
    key, secret = keys.create(f"pg-{uuid.uuid4().hex[:8]}", now=time.time(), token_quota=10)
    assert keys.authenticate(secret) == key
    store = UsageStore(engine)
    record = dataclasses.replace(_record(0, key.id, "m", "r", ("r/0",), time.time()), id=uuid.uuid4().hex)
    store.insert_many([record])
    assert store.tokens_since(key.id, 0.0) == 500
    assert [
        s.requests for s in store.summarise("key", TokenPrices(1, 1), key_id=key.id, now=time.time())
    ] == [1]


def test_limits_stored_as_infinity_by_the_old_api_are_repaired_by_the_migration(tmp_path):
    """Issue 13: `"rate_limit_rpm": 1e400` stored inf, and every later key listing was a 500."""
    import sqlite3

    from alembic import command
    from alembic.config import Config

    path = tmp_path / "old.db"
    engine = open_engine(str(path), migrate_schema=False)
    config = Config()
    import rigshift.server.db as db_module

    config.set_main_option("script_location", str(Path(db_module.__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO api_keys VALUES ('k1', 'x', 'h', 0, '*', NULL, 'month', 9e999, 1.0, NULL)")
    engine = open_engine(str(path))  # migrates to head
    (key,) = KeyStore(engine).list()
    assert key.rate_limit_rpm is None
