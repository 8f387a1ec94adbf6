"""The server's layering, checked on its source: routers -> services -> stores, SQL only in stores.

An import-linter contract in spirit, read with `ast` so it needs no extra tool: every module under
`src/rigshift/server` is parsed and its run-time imports (not those under `if TYPE_CHECKING:`)
are checked against the rules below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[2] / "src" / "rigshift" / "server"

# The only modules that may run SQL: the stores, and the database's own plumbing (opening it,
# its schema, its migrations). The measurements' store lives below `measure`, the CLI's client in
# `rigshift.client`: neither is under `server/` any more.
SQL_ALLOWED = ("stores/", "db.py", "tables.py", "migrations/")
STORAGE = (
    "rigshift.server.stores",
    "rigshift.server.db",
    "rigshift.server.tables",
    "rigshift.measure.store",
    "rigshift.storage",
)
ABOVE_STORES = (
    "rigshift.server.services",
    "rigshift.server.routers",
    "rigshift.server.gateway",
    "rigshift.server.app",
    "rigshift.server.context",
    "rigshift.server.deps",
    "fastapi",
    "starlette",
)


def runtime_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import that runs when the module loads (TYPE_CHECKING blocks skipped)."""
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def _under(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def violations(relative: str, source: str) -> list[str]:
    """What `relative` (a path under server/, e.g. "routers/keys.py") does against the layering."""
    problems = []
    if relative.startswith("routers/"):
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Attribute) and node.attr in ("store", "engine"):
                problems.append(
                    f"server/{relative}:{node.lineno} reaches .{node.attr}: routers call services, never a store"
                )
    for line, module in runtime_imports(source):
        where = f"server/{relative}:{line} imports {module}"
        if _under(module, ("sqlalchemy",)) and not relative.startswith(SQL_ALLOWED):
            problems.append(f"{where}: SQL belongs in a store (server/stores/)")
        if relative.startswith("routers/") and _under(module, STORAGE):
            problems.append(f"{where}: routers call services, never a store")
        if relative.startswith("services/") and _under(module, ("rigshift.server.routers",)):
            problems.append(f"{where}: services are called by routers, not the other way")
        if relative.startswith("stores/") and _under(module, ABOVE_STORES):
            problems.append(f"{where}: stores know nothing of the layers above them")
    return problems


def test_the_server_is_layered_routers_services_stores():
    problems = []
    for path in sorted(SERVER.rglob("*.py")):
        relative = path.relative_to(SERVER).as_posix()
        problems.extend(violations(relative, path.read_text()))
    assert problems == []


def test_stores_sit_in_their_own_folder():
    """A module beside `routers/` and `services/` that opens connections is a store out of place."""
    misplaced = [
        path.relative_to(SERVER).as_posix()
        for path in sorted(SERVER.glob("*.py"))
        if not path.name.startswith(SQL_ALLOWED) and "engine.connect()" in path.read_text()
    ]
    assert misplaced == []


@pytest.mark.parametrize(
    ("relative", "source", "complaint"),
    [
        ("routers/keys.py", "from rigshift.server.stores.keys import KeyStore", "never a store"),
        ("routers/farm.py", "import sqlalchemy", "SQL belongs in a store"),
        ("services/usage.py", "from sqlalchemy import select", "SQL belongs in a store"),
        ("gateway.py", "from sqlalchemy import select", "SQL belongs in a store"),
        ("services/usage.py", "from rigshift.server.routers import usage", "not the other way"),
        ("stores/usage.py", "from rigshift.server.services.usage import UsageService", "layers above"),
        ("stores/keys.py", "from fastapi import Depends", "layers above"),
        ("routers/usage.py", "rows = ctx.usage.store.records()", "never a store"),
        ("routers/usage.py", "with ctx.engine.connect() as c: pass", "never a store"),
    ],
)
def test_the_check_catches_each_kind_of_upward_or_misplaced_import(relative, source, complaint):
    problems = violations(relative, source)
    assert len(problems) == 1 and complaint in problems[0]


def test_type_only_imports_are_not_dependencies():
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sqlalchemy import Engine\n"
    assert violations("app.py", source) == []
    assert violations("stores/usage.py", "from sqlalchemy import select") == []
