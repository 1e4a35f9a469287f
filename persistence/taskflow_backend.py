"""TaskFlow's SQLAlchemy backend on our engine, with one cached connection."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine
from taskflow.persistence.backends.impl_sqlalchemy import (
    Connection,
    SQLAlchemyBackend,
)

# The tables TaskFlow's own migrations create and own.
TASKFLOW_TABLES: frozenset[str] = frozenset({"logbooks", "flowdetails", "atomdetails"})


class CachedConnectionBackend(SQLAlchemyBackend):
    """``SQLAlchemyBackend`` whose ``get_connection()`` returns one cached object.

    Stock TaskFlow builds a new ``Connection`` per storage call, and each one
    rebuilds the table metadata (36% of conductor CPU) and defeats the SQL
    statement cache. A ``Connection`` holds no per-call state and its
    ``close()`` is a no-op, so one instance can serve every caller and thread.
    """

    def __init__(self, conf: dict[str, Any], engine: Engine) -> None:
        super().__init__(conf, engine=engine)
        self._connection: Connection | None = None
        self._connection_lock = threading.Lock()

    def get_connection(self) -> Connection:
        connection = self._connection
        if connection is not None:
            return connection
        with self._connection_lock:
            if self._connection is None:
                # The parent validates the engine on first use; a failure
                # raises here and nothing is cached.
                self._connection = super().get_connection()
            return self._connection

    def close(self) -> None:
        with self._connection_lock:
            self._connection = None
        super().close()
