"""Stores: the only modules that read or write the database (or the model files on disk).

Rows never leave a store: each method takes plain values and returns plain dataclasses. Services
(`rigshift.server.services`) call the stores; routers never do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine


class EngineStore:
    """A store over one database engine: each of its methods is one short transaction on it."""

    def __init__(self, engine: Engine):
        self.engine = engine
