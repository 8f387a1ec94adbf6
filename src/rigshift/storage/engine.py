"""Open a database: SQLite (WAL) by default, PostgreSQL by URL; the same SQLAlchemy Core code
runs on both. WAL lets readers (`rigshift usage`, `rigshift estimate`) run while the server writes;
`synchronous=NORMAL` in WAL mode keeps every committed transaction across a process crash or restart
(only an OS crash or power loss can drop the last few commits; pass `?synchronous=full` to the URL
to pay an fsync per commit for that too).

Below every package that stores rows (measure, server): it imports neither, so reading the
measurements for a calibration never loads the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError

from rigshift.db_url import default_db_url, normalise_url
from rigshift.errors import InputError


def connect(url: str | None = None) -> Engine:
    """An engine for `url` (default: `default_db_url()`): SQLite in WAL mode, or PostgreSQL.
    It never creates or migrates the schema (the server's `open_engine` does that)."""
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

    return engine
