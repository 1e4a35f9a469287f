"""Schema management: TaskFlow's tables through TaskFlow, ours through alembic.

Alembic is imported only to migrate: checking that the schema is current (what
every command does first) reads the version table with one SELECT and
compares it with ``HEAD_REVISIONS``.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

#: The head of ``migrations/versions``; a new revision updates it
#: (tests/integration/test_migrations.py holds it equal to alembic's heads).
HEAD_REVISIONS: frozenset[str] = frozenset({"0008"})

#: TaskFlow's tables (its own upgrade creates them).
TASKFLOW_TABLES: frozenset[str] = frozenset({"logbooks", "flowdetails", "atomdetails"})

# Our own version table: TaskFlow's bundled migrations use the default
# ``alembic_version`` and must never see our revisions (nor we theirs).
VERSION_TABLE = "orchestrator_alembic_version"

# Arbitrary constant key of the PostgreSQL advisory lock that serialises
# concurrent upgrades (several conductors starting at once).
_UPGRADE_LOCK_KEY = 0x6F726368  # "orch"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configuration for the installed ``migrations`` package.

    ``migrations/env.py`` runs on ``connection``; there is no alembic.ini.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files("migrations")))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revisions() -> frozenset[str]:
    """The head revision(s) of our migration scripts."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def upgrade_ours(engine: Engine, revision: str = "head") -> None:
    """Apply our migrations up to ``revision`` in one transaction."""
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade_ours(engine: Engine, revision: str = "base") -> None:
    """Revert our migrations down to ``revision``; TaskFlow's tables stay."""
    from alembic import command

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def current_revisions(connection: Connection) -> frozenset[str]:
    """Revisions recorded in our version table (empty when never upgraded)."""
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return frozenset(context.get_current_heads())


def is_current(engine: Engine) -> bool:
    """Our head is applied and TaskFlow's tables exist."""
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        if VERSION_TABLE not in tables:
            return False
        applied = frozenset(connection.execute(
            text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    return applied == HEAD_REVISIONS and TASKFLOW_TABLES <= tables


@contextmanager
def upgrade_lock(engine: Engine) -> Iterator[None]:
    """Serialise upgrades across processes (several conductors starting at once).

    Without it, concurrent upgrades fail with "relation already exists" on
    PostgreSQL and "table already exists" on SQLite.
    """
    sqlite_file = _sqlite_file(engine)
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine):
            yield
    elif sqlite_file is not None:
        with _file_lock(Path(f"{sqlite_file}.upgrade-lock")):
            yield
    else:
        yield


@contextmanager
def _advisory_lock(engine: Engine) -> Iterator[None]:
    with engine.connect() as raw:
        # Autocommit, so this connection does not sit "idle in transaction"
        # while the migrations run on other connections.
        connection = raw.execution_options(isolation_level="AUTOCOMMIT")
        key = {"key": _UPGRADE_LOCK_KEY}
        connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    # A separate file: SQLite's own locks on the database file must not be
    # mixed with ours (they are the same kind of lock on NFS).
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sqlite_file(engine: Engine) -> str | None:
    """The SQLite database file, or None (not SQLite, in memory, or a URI)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database
