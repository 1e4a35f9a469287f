"""Alembic environment for OUR tables (run through ``persistence.Database``).

Online only: the caller passes an open connection in
``config.attributes["connection"]``. Everything outside ``OWNED_TABLES``
(TaskFlow's tables and its ``alembic_version``) is invisible to autogenerate.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

from persistence.models import OWNED_TABLES, metadata
from persistence.schema import VERSION_TABLE


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Limit autogenerate to our tables (indexes etc. follow their table)."""
    if type_ == "table":
        return name in OWNED_TABLES
    return True


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "run migrations through persistence.Database.upgrade(), which "
            "passes a connection in config.attributes['connection']"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_name=include_name,
        compare_type=True,
        # SQLite cannot ALTER most things: batch mode copies the table.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) mode is not supported")
run_migrations_online()
