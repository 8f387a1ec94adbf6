"""What `pip install rigshift` leaves out, and the message a command gives when it needs it.

`pip install rigshift` is the analysis CLI: estimate, assess, econ, plan, fleet, energy simulate.
The control plane and the cluster are extras (pyproject.toml): `rigshift[server]` (FastAPI,
uvicorn, SQLAlchemy, Alembic, …: `server`, `keys`, `usage`, `bench`'s database, stored
measurements) and `rigshift[cluster]` (Ray: `up`, `agent`). `scripts/setup` installs both.
"""

from __future__ import annotations

import importlib.util

from rigshift.errors import MissingExtra

# The top-level module -> the extra that installs it.
EXTRA_OF = {
    "fastapi": "server",
    "starlette": "server",
    "uvicorn": "server",
    "sqlalchemy": "server",
    "alembic": "server",
    "prometheus_client": "server",
    "multipart": "server",
    "python_multipart": "server",
    "ray": "cluster",
    "psycopg": "postgres",
}


def _message(module: str, extra: str, what: str | None) -> str:
    needs = f"{what} needs" if what else "this command needs"
    return f"{needs} {module}, from rigshift's `{extra}` extra: pip install 'rigshift[{extra}]'"


def missing_extra(error: ModuleNotFoundError, what: str | None = None) -> MissingExtra | None:
    """The MissingExtra for an import that failed because an extra is not installed, else None."""
    module = (error.name or "").split(".")[0]
    extra = EXTRA_OF.get(module)
    return MissingExtra(_message(module, extra, what)) if extra else None


def require(extra: str, what: str) -> None:
    """Refuse early, with the install line, when `extra`'s modules are not installed (for commands
    that would otherwise fail late: a subprocess, a worker)."""
    for module, owner in EXTRA_OF.items():
        if owner != extra or module in ("starlette", "python_multipart", "multipart"):
            continue
        try:
            found = importlib.util.find_spec(module) is not None
        except (ModuleNotFoundError, ValueError):
            found = False
        if not found:
            raise MissingExtra(_message(module, extra, what))
