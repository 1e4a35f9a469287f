"""The ``Database`` facade: engine, session scope, TaskFlow backend, schema."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from persistence import schema
from persistence.engine import create_engine, mask_url
from persistence.errors import PersistenceError, SchemaError
from persistence.fencing import Fence

if TYPE_CHECKING:
    # TaskFlow is imported when its backend is first needed: reading job
    # records (a listing, a schema check) does without it.
    from taskflow.persistence.base import Backend

    from persistence.taskflow_backend import CachedConnectionBackend, TaskflowTables

# Errors after which the same call may work later: the server was unreachable
# or dropped the connection, or the pool was exhausted.
_TRANSIENT_ERRORS = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)


class Database:
    """One database: its engine, session scope, TaskFlow backend and schema."""

    def __init__(self, url_or_engine: str | Engine, *, ping: bool = True) -> None:
        """``ping``: test each pooled connection with a round trip before use.

        Worth it for a server (a restart of the database costs no request),
        not for a conductor: it would pay a round trip per transaction, and
        every write it makes waits out a dropped connection anyway.
        """
        if isinstance(url_or_engine, Engine):
            self._engine = url_or_engine
            self._owns_engine = False
        else:
            self._engine = create_engine(url_or_engine, ping=ping)
            self._owns_engine = True
        # Records are built inside the scope, but expiring on commit would
        # make any later attribute access hit the database again.
        self._sessions = sessionmaker(bind=self._engine, expire_on_commit=False)
        self._backend: CachedConnectionBackend | None = None
        self._backend_lock = threading.Lock()
        # Shared by every fenced backend: building table metadata is costly.
        self._taskflow_tables: TaskflowTables | None = None

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def url(self) -> str:
        """The URL with its password masked, for messages and logs."""
        return mask_url(self._engine.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """The one place that commits: commit on success, roll back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except sa_exc.SQLAlchemyError as exc:
            session.rollback()
            raise PersistenceError(
                f"database error on {self.url}: {_describe(exc)}",
                retryable=isinstance(exc, _TRANSIENT_ERRORS),
            ) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def taskflow_backend(self, fence: Fence | None = None) -> Backend:
        """TaskFlow's SQLAlchemy backend on this engine.

        Without ``fence``: the one unfenced backend (built once), for posting,
        reads and history. With ``fence``: a new light ``FencedBackend`` whose
        writes the database refuses once a newer claim of ``fence.job_id``
        exists; keep it for as long as the claim.
        """
        from persistence.taskflow_backend import CachedConnectionBackend, FencedBackend

        with self._backend_lock:
            if self._backend is None:
                # TaskFlow only reads "connection" when it builds its own
                # engine; the masked URL keeps the password out of its conf.
                self._backend = CachedConnectionBackend(
                    {"connection": self.url}, engine=self._engine
                )
            if fence is None:
                return self._backend
            return FencedBackend(self._engine, self._tables_locked(), fence,
                                 self._backend, _TRANSIENT_ERRORS)

    def insert_logbook(self, connection: Connection, book: Any) -> None:
        """Insert a new logbook with its flow and atom details, in the caller's transaction.

        For posting: a job's rows go in with its record, in one transaction.
        """
        from persistence.taskflow_backend import insert_new_logbook

        with self._backend_lock:
            tables = self._tables_locked()
        insert_new_logbook(connection, tables, book)

    def delete_logbook(self, connection: Connection, book_uuid: str) -> None:
        """Delete a logbook (TaskFlow's foreign keys take its details along)."""
        with self._backend_lock:
            books = self._tables_locked().logbooks
        connection.execute(books.delete().where(books.c.uuid == book_uuid))

    def note_on_flow_detail(self, flow_detail_id: str, key: str, value: Any, *,
                            when_state: str) -> bool:
        """Set ``meta[key]`` of a flow detail only while it is in ``when_state``.

        For requests on a finished job (no conductor writes its flow detail
        then). The UPDATE is conditional on the state and leaves the state
        alone: a request that lost the race to reopen the job can never write
        over what the conductor now running it stored. False, nothing
        written, when the flow detail is missing or in another state.
        """
        from sqlalchemy import select, update

        with self._backend_lock:
            flows = self._tables_locked().flowdetails
        found = (flows.c.uuid == flow_detail_id) & (flows.c.state == when_state)
        try:
            with self._engine.begin() as conn:
                row = conn.execute(select(flows.c.meta).where(found)).first()
                if row is None:
                    return False
                meta = {**(row.meta or {}), key: value}
                return conn.execute(update(flows).where(found)
                                    .values(meta=meta)).rowcount == 1
        except _TRANSIENT_ERRORS as exc:
            raise PersistenceError(
                f"could not note {key} on flow detail {flow_detail_id}: "
                f"{_describe(exc)}", retryable=True) from exc

    def _tables_locked(self) -> TaskflowTables:
        if self._taskflow_tables is None:
            from persistence.taskflow_backend import TaskflowTables

            self._taskflow_tables = TaskflowTables.build()
        return self._taskflow_tables

    def upgrade(self) -> None:
        """Create or upgrade TaskFlow's tables, then ours; a no-op when current."""
        from taskflow import exceptions as tf_exc

        try:
            with schema.upgrade_lock(self._engine):
                self.taskflow_backend().get_connection().upgrade()
                schema.upgrade_ours(self._engine)
        except (sa_exc.SQLAlchemyError, tf_exc.TaskFlowException) as exc:
            raise self._schema_error("upgrading", exc) from exc

    def downgrade(self, revision: str = "base") -> None:
        """Revert our tables to ``revision``; TaskFlow's tables are untouched."""
        try:
            schema.downgrade_ours(self._engine, revision)
        except sa_exc.SQLAlchemyError as exc:
            raise self._schema_error("downgrading", exc) from exc

    def schema_current(self) -> bool:
        """Whether our head revision is applied and TaskFlow's tables exist."""
        try:
            return schema.is_current(self._engine)
        except sa_exc.SQLAlchemyError as exc:
            raise self._schema_error("checking", exc) from exc

    def require_current_schema(self) -> None:
        """Raise ``SchemaError`` unless ``schema_current()``."""
        if not self.schema_current():
            raise SchemaError(
                f"the database schema at {self.url} is missing or outdated: "
                "upgrade the database first"
            )

    def close(self) -> None:
        """Drop the TaskFlow backend and dispose of the engine if we built it."""
        with self._backend_lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None
        if self._owns_engine:
            self._engine.dispose()

    def _schema_error(self, action: str, exc: BaseException) -> SchemaError:
        return SchemaError(
            f"{action} the database schema at {self.url} failed: {_describe(exc)}",
            retryable=isinstance(_root_cause(exc), _TRANSIENT_ERRORS),
        )


def _root_cause(exc: BaseException) -> BaseException:
    # TaskFlow wraps SQLAlchemy's errors in StorageFailure (with a cause).
    from taskflow import exceptions as tf_exc

    while isinstance(exc, tf_exc.TaskFlowException) and exc.cause is not None:
        exc = exc.cause
    return exc


def _describe(exc: BaseException) -> str:
    """A one-line reason: the driver's message without SQLAlchemy's boilerplate."""
    cause = _root_cause(exc)
    if isinstance(cause, sa_exc.DBAPIError) and cause.orig is not None:
        cause = cause.orig
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"
