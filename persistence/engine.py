"""Engine construction: one place that knows each dialect's needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import URL, Engine, event, make_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import QueuePool, StaticPool

from persistence import jsoncodec
from persistence.errors import PersistenceError

# Applied to every new SQLite connection. WAL lets readers run beside the one
# writer; busy_timeout makes a second writer (another conductor process) wait
# instead of failing with "database is locked"; NORMAL is durable enough under
# WAL and saves an fsync per commit; foreign_keys makes TaskFlow's cascades work.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)


def parse_url(url: str | URL) -> URL:
    """Parse ``url``, turning SQLAlchemy's errors into ``PersistenceError``."""
    try:
        return make_url(url)
    except sa_exc.ArgumentError as exc:
        raise PersistenceError(f"invalid database URL: {exc}") from exc


def mask_url(url: str | URL) -> str:
    """``url`` with its password hidden, fit for messages and logs."""
    return parse_url(url).render_as_string(hide_password=True)


def is_sqlite_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (
        None,
        "",
        ":memory:",
    )


def create_engine(url: str | URL, *, ping: bool = True) -> Engine:
    """Build an engine for ``url`` with the settings its dialect needs.

    SQLite: a pooled engine with WAL pragmas (the parent directory of the file
    is created). PostgreSQL: an explicit driver is required and connections
    are pinged before use.
    """
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres") and "+" not in parsed.drivername:
        # With SQLAlchemy 2.1 a bare URL silently means psycopg 3 while
        # TaskFlow's extras install psycopg2: make the choice visible.
        raise PersistenceError(
            f"database URL {mask_url(parsed)} names no driver: use "
            "postgresql+psycopg://user:password@host/dbname"
        )
    try:
        if backend == "sqlite":
            return _sqlite_engine(parsed)
        return sqlalchemy.create_engine(parsed, pool_pre_ping=ping,
                                        json_serializer=jsoncodec.dumps)
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError) as exc:
        raise PersistenceError(f"cannot create an engine for {mask_url(parsed)}: {exc}") from exc


def _sqlite_engine(url: URL) -> Engine:
    kwargs: dict[str, Any]
    if is_sqlite_memory(url):
        # One shared connection, or every checkout would see a new empty DB.
        kwargs = {
            "poolclass": StaticPool,
            "connect_args": {"check_same_thread": False},
        }
    else:
        if url.database and not url.database.startswith("file:"):
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # A real pool: TaskFlow's NullPool reconnects (and re-runs the
        # pragmas) on every call. Pooled connections move between threads.
        kwargs = {
            "poolclass": QueuePool,
            "connect_args": {"check_same_thread": False},
        }
    engine = sqlalchemy.create_engine(url, json_serializer=jsoncodec.dumps, **kwargs)
    event.listen(engine, "connect", apply_sqlite_pragmas)
    return engine


def apply_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """``connect`` listener: the pragmas every SQLite connection of ours gets."""
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def upsert_insert(dialect: str) -> Any:
    """The dialect's ``insert`` construct, which has ``on_conflict_do_nothing`` and
    ``on_conflict_do_update`` (only the one in use is imported)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert
