"""Open the control plane's database and bring its schema up to date.

SQLite (WAL) by default, PostgreSQL by URL: the same SQLAlchemy Core code runs on both. WAL lets
readers (`rigshift usage`, `rigshift keys list`) run while the server writes; `synchronous=NORMAL`
in WAL mode keeps every committed transaction across a process crash or restart (only an OS crash
or power loss can drop the last few commits; pass `?synchronous=full` to the URL to pay an fsync
per commit for that too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, OperationalError

from rigshift.db_url import default_db_url, normalise_url
from rigshift.errors import EnvironmentProblem, InputError

__all__ = ["default_db_url", "normalise_url", "open_engine"]


def open_engine(url: str | None = None, *, migrate_schema: bool = True) -> Engine:
    """An engine for `url` (default: `default_db_url()`), its schema migrated to the latest."""
    url = normalise_url(url or default_db_url())
    sqlite = url.startswith("sqlite")
    sync_mode = "NORMAL"
    kwargs: dict[str, Any] = {}
    if sqlite:
        parts = urlsplit(url)
        sync_mode = parse_qs(parts.query).get("synchronous", ["NORMAL"])[0].upper()
        url = url.split("?", 1)[0]
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if path in ("", ":memory:"):
            raise InputError(
                "an in-memory database would lose every key and usage record",
                field="--db",
                expected="a file path or sqlite:///PATH",
            )
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, ModuleNotFoundError) as error:
        raise InputError(
            f"cannot open database: {error}",
            field="--db",
            expected="sqlite:///PATH, a file path, or postgresql://user:pass@host/db (needs psycopg)",
        ) from error
    if sqlite:

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={sync_mode}")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    if migrate_schema:
        migrate(engine)
    return engine


def migrate(engine: Engine) -> None:
    """Run every Alembic migration not yet applied (idempotent; safe on every start)."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as error:
        raise EnvironmentProblem(f"cannot migrate database {engine.url!r}: {error.orig}") from error


def migration_sql(url: str) -> str:
    """The DDL every migration would run on a database of `url`'s dialect, without connecting."""
    import contextlib
    import io

    config = Config(output_buffer=io.StringIO())
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("+psycopg", ""))
    with contextlib.redirect_stdout(io.StringIO()):
        command.upgrade(config, "head", sql=True)
    buffer = config.output_buffer
    assert isinstance(buffer, io.StringIO)
    return buffer.getvalue()
