"""Open the control plane's database (rigshift.storage.engine) and bring its schema up to date
with the Alembic migrations in `migrations/versions`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from rigshift.db_url import default_db_url, normalise_url
from rigshift.errors import EnvironmentProblem
from rigshift.storage.engine import connect

__all__ = ["default_db_url", "normalise_url", "open_engine"]


def open_engine(url: str | None = None, *, migrate_schema: bool = True) -> Engine:
    """An engine for `url` (default: `default_db_url()`), its schema migrated to the latest."""
    engine = connect(url)
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
