"""Where the database is: `RIGSHIFT_DB`, a URL or a path. Pure, so a command can check whether a
database exists before it pays for importing SQLAlchemy (`rigshift estimate` starts in < 0.4 s)."""

from __future__ import annotations

import os
from pathlib import Path


def default_db_url() -> str:
    """`RIGSHIFT_DB`, else SQLite under `$XDG_DATA_HOME/rigshift` (`~/.local/share/rigshift`)."""
    env = os.environ.get("RIGSHIFT_DB")
    if env:
        return env
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{data_home / 'rigshift' / 'rigshift.db'}"


def normalise_url(url: str) -> str:
    """Accept a bare file path or a SQLAlchemy URL; `postgresql://` uses the psycopg 3 driver."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///PATH` URL (query stripped), None for any other database."""
    if not url.startswith("sqlite:///"):
        return None
    return Path(url.split("///", 1)[1].split("?", 1)[0])
