"""TaskFlow's SQLAlchemy backend on our engine: one cached connection, and fenced writes.

``CachedConnectionBackend`` serves posting, reads and history (no claim). A
claimed job's engine writes through a ``FencedBackend`` instead: every write
it makes is refused by the database once a newer claim of the job exists.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Engine,
    MetaData,
    Table,
    bindparam,
    delete,
    exists,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from taskflow import exceptions as tf_exc
from taskflow.persistence import base as tf_base
from taskflow.persistence import models as tf_models
from taskflow.persistence.backends.impl_sqlalchemy import (
    Connection as SQLAlchemyConnection,
)
from taskflow.persistence.backends.impl_sqlalchemy import SQLAlchemyBackend
from taskflow.persistence.backends.sqlalchemy import tables as tf_tables

from persistence import jsoncodec
from persistence.errors import ClaimLost, StorageUnavailable
from persistence.fencing import Fence
from persistence.models import JobRow

LOG = logging.getLogger(__name__)

# Backoff between attempts of a write while the database is unreachable.
FIRST_RETRY_DELAY = 0.05
MAX_RETRY_DELAY = 2.0

#: Flow states that end a run.
FLOW_END_STATES: frozenset[str] = frozenset({"SUCCESS", "REVERTED", "FAILURE"})
#: Atom states written just before the atom's execute or revert is called:
#: what was deferred must be stored before any side effect, so these flush.
ATOM_START_STATES: frozenset[str] = frozenset({"RUNNING", "REVERTING"})
#: Flow states a run stops in: written at once, with whatever was deferred.
FLOW_STOP_STATES: frozenset[str] = FLOW_END_STATES | {"SUSPENDED"}

# Fields TaskFlow's merge() leaves alone: an update never rewrites them.
_KEPT_ON_UPDATE = ("uuid", "name")

T = TypeVar("T")
#: A write: run on the transaction's connection, it returns its result and what
#: to remember once it is stored.
_Work = Callable[[Connection], tuple[T, Callable[[], None]]]


class CachedConnectionBackend(SQLAlchemyBackend):
    """``SQLAlchemyBackend`` whose ``get_connection()`` returns one cached object.

    Stock TaskFlow builds a new ``Connection`` per storage call, and each one
    rebuilds the table metadata (36% of conductor CPU) and defeats the SQL
    statement cache. A ``Connection`` holds no per-call state and its
    ``close()`` is a no-op, so one instance can serve every caller and thread.
    """

    def __init__(self, conf: dict[str, Any], engine: Engine) -> None:
        super().__init__(conf, engine=engine)
        self._connection: SQLAlchemyConnection | None = None
        self._connection_lock = threading.Lock()

    def get_connection(self) -> SQLAlchemyConnection:
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


@dataclass(frozen=True)
class TaskflowTables:
    """TaskFlow's three tables and our job table, built once per ``Database``.

    ``statements`` keeps the fenced writes built once, with their values and
    the fence as bind parameters: SQLAlchemy then compiles each once, and no
    write pays for building and keying a new statement.
    """

    logbooks: Table
    flowdetails: Table
    atomdetails: Table
    jobs: Table
    statements: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def fence_clause(self) -> ColumnElement[bool]:
        """``EXISTS`` the job row at the claim's epoch, taking a share lock (PostgreSQL)."""
        return exists(
            select(literal(1)).select_from(self.jobs)
            .where(self.jobs.c.id == bindparam("f_job"),
                   self.jobs.c.claim_epoch == bindparam("f_epoch"))
            .with_for_update(read=True))

    def fenced_update(self, table: Table, columns: tuple[str, ...]) -> Any:
        """``UPDATE table SET <columns> WHERE uuid = :w_uuid AND <fence>``, built once."""
        key = ("update", table.name, columns)
        stmt = self.statements.get(key)
        if stmt is None:
            stmt = (update(table)
                    .where(table.c.uuid == bindparam("w_uuid"), self.fence_clause())
                    .values({name: bindparam(f"v_{name}") for name in columns}))
            self.statements[key] = stmt
        return stmt

    def plain_update(self, table: Table, columns: tuple[str, ...]) -> Any:
        """``UPDATE table SET <columns> WHERE uuid = :w_uuid`` (inside a fenced transaction)."""
        key = ("plain", table.name, columns)
        stmt = self.statements.get(key)
        if stmt is None:
            stmt = (update(table).where(table.c.uuid == bindparam("w_uuid"))
                    .values({name: bindparam(f"v_{name}") for name in columns}))
            self.statements[key] = stmt
        return stmt

    @classmethod
    def build(cls) -> TaskflowTables:
        fetched = tf_tables.fetch(MetaData())
        return cls(fetched.logbooks, fetched.flowdetails, fetched.atomdetails,
                   cast(Table, JobRow.__table__))


def insert_new_logbook(conn: Connection, tables: TaskflowTables, book: Any) -> None:
    """Insert a book that is not stored yet, its flow details and their atoms.

    The rows are the ones TaskFlow's own ``save_logbook`` writes for a new
    book, in three statements (the details in one executemany each).
    """
    # Statements without inline values: compiled once, served from the cache.
    conn.execute(tables.logbooks.insert(), [book.to_dict()])
    flows = [{**fd.to_dict(), "parent_uuid": book.uuid} for fd in book]
    if flows:
        conn.execute(tables.flowdetails.insert(), flows)
    atoms = [{**ad.to_dict(), "parent_uuid": fd.uuid,
              "atom_type": tf_models.atom_detail_type(ad)} for fd in book for ad in fd]
    if atoms:
        conn.execute(tables.atomdetails.insert(), atoms)


def is_transient(exc: BaseException, kinds: tuple[type[BaseException], ...],
                 dialect: str) -> bool:
    """Whether retrying the same write may work once the database is back.

    SQLite reports a missing table or column as ``OperationalError`` too; of
    its operational errors only lock contention passes.
    """
    if not isinstance(exc, kinds):
        return False
    if dialect == "sqlite" and isinstance(exc, sa_exc.OperationalError):
        reason = str(exc.orig).lower()
        return "locked" in reason or "busy" in reason
    return True


class FencedBackend(tf_base.Backend):
    """A TaskFlow backend for one claim: ``get_connection()`` is always one ``FencedConnection``.

    Light to build: it shares the engine, the tables and the read connection
    of its ``Database``. Keep it as long as the claim: its connection caches
    what it last wrote.
    """

    def __init__(self, engine: Engine, tables: TaskflowTables, fence: Fence,
                 reads: CachedConnectionBackend,
                 transient: tuple[type[BaseException], ...]) -> None:
        super().__init__({})
        self._connection = FencedConnection(self, engine, tables, fence, reads, transient)

    @property
    def fence(self) -> Fence:
        return self._connection.fence

    def get_connection(self) -> FencedConnection:
        return self._connection

    def close(self) -> None:
        """Nothing to release: the engine belongs to the ``Database``."""


class FencedConnection(tf_base.Connection):
    """TaskFlow's ``Connection`` whose writes require the claim of ``fence`` to be current.

    Each write is one transaction whose first statement carries the condition
    ``EXISTS (SELECT 1 FROM orchestrator_jobs WHERE id=:job AND
    claim_epoch=:epoch FOR SHARE)``: on PostgreSQL the share lock makes a
    concurrent claim wait until the write commits, and a write racing a
    committed claim re-checks the row and changes nothing; on SQLite the
    statement runs under the single write lock. Later statements of the
    transaction are covered by that lock. A write that changed nothing raises
    ``ClaimLost`` when the claim moved on, else TaskFlow's ``NotFound``.

    Writes are lean: no SELECT before an UPDATE. Because the fence makes this
    connection the only writer of its job's details, it remembers, per flow
    detail, the serialized form of each atom it last read or wrote, and
    rewrites only the atoms that changed. Reads are TaskFlow's own.

    While ``group_writes`` is on (an engine's run), writes are also grouped.
    A write that no side effect can follow before the next write (an atom's
    end, a flow's RUNNING, the atoms ``prepare`` adds) is deferred; it commits
    in the transaction of the next write that starts an atom's execute or
    revert, or stops the run, or at ``flush()`` (called before the engine
    waits for atoms running in parallel, and before any read). So whatever a
    task does is preceded by everything before it being stored, as when each
    write committed alone, and a serial flow costs one transaction per task.
    A deferred write's error (a missing detail, the fence) surfaces from the
    write that commits it; with grouping off, each write is TaskFlow's
    ``Connection`` contract to the letter.
    """

    def __init__(self, backend: FencedBackend, engine: Engine, tables: TaskflowTables,
                 fence: Fence, reads: CachedConnectionBackend,
                 transient: tuple[type[BaseException], ...]) -> None:
        self._backend = backend
        self._engine = engine
        self.tables = tables
        self.fence = fence
        self._reads = reads
        self._transient = transient
        jobs = tables.jobs
        self._fence_clause: ColumnElement[bool] = exists(
            select(literal(1)).select_from(jobs)
            .where(jobs.c.id == fence.job_id, jobs.c.claim_epoch == fence.epoch)
            # FOR SHARE on PostgreSQL; SQLite renders nothing (one writer anyway).
            .with_for_update(read=True)
        )
        # atom uuid -> fingerprint of its stored row, for the flow details in
        # _flow_atoms (flow uuid -> its atoms' uuids). Changed only after a
        # commit, and dropped whenever a transaction fails (it may have
        # committed without us hearing back).
        self._atoms: dict[str, str | None] = {}
        self._flow_atoms: dict[str, set[str]] = {}
        # One job's writes are sequential anyway (TaskFlow's Storage holds a
        # write lock); this keeps the cache equal to the rows.
        self._lock = threading.Lock()
        #: Defer the writes that may wait for the next one (see above).
        self.group_writes = False
        # Deferred writes, oldest first: (what, work), as _write takes them.
        self._pending: list[tuple[str, _Work[Any]]] = []
        #: Called inside the transaction that writes the flow's end state
        #: (SUCCESS, REVERTED or FAILURE), with that transaction's connection:
        #: what it writes commits or rolls back with the flow's end.
        self.on_flow_end: Callable[[Connection, Any], None] | None = None

    # -- TaskFlow's Connection API: housekeeping ---------------------------

    @property
    def backend(self) -> FencedBackend:
        return self._backend

    def close(self) -> None:
        """A no-op: TaskFlow closes the connection after every call; it is reused."""

    def validate(self, max_retries: int = 0) -> None:
        self._reads.get_connection().validate(max_retries=max_retries)

    def upgrade(self) -> None:
        self._reads.get_connection().upgrade()

    def clear_all(self) -> NoReturn:
        raise tf_exc.NotImplementedError(
            f"a connection fenced for job {self.fence.job_id} cannot clear every logbook")

    # -- reads: TaskFlow's own ---------------------------------------------

    def get_logbook(self, book_uuid: str, lazy: bool = False) -> Any:
        self.flush()
        return self._reads.get_connection().get_logbook(book_uuid, lazy=lazy)

    def get_logbooks(self, lazy: bool = False) -> Iterator[Any]:
        self.flush()
        return cast(Iterator[Any], self._reads.get_connection().get_logbooks(lazy=lazy))

    def get_flows_for_book(self, book_uuid: str, lazy: bool = False) -> Iterator[Any]:
        self.flush()
        return cast(Iterator[Any],
                    self._reads.get_connection().get_flows_for_book(book_uuid, lazy=lazy))

    def get_flow_details(self, fd_uuid: str, lazy: bool = False) -> Any:
        self.flush()
        flow_detail = self._read(f"loading flow details {fd_uuid}",
                                 lambda: self._reads.get_connection().get_flow_details(
                                     fd_uuid, lazy=lazy))
        if not lazy:
            # What was read is what is stored: the first write of this flow
            # detail need not read its atoms again.
            with self._lock:
                fingerprints = {ad.uuid: _fingerprint(_update_values(ad.to_dict()))
                                for ad in flow_detail}
                self._atoms.update(fingerprints)
                self._flow_atoms[flow_detail.uuid] = set(fingerprints)
        return flow_detail

    def get_atom_details(self, ad_uuid: str) -> Any:
        self.flush()
        return self._reads.get_connection().get_atom_details(ad_uuid)

    def get_atoms_for_flow(self, fd_uuid: str) -> Iterator[Any]:
        self.flush()
        return cast(Iterator[Any], self._reads.get_connection().get_atoms_for_flow(fd_uuid))

    # -- writes --------------------------------------------------------------

    def update_atom_details(self, atom_detail: Any) -> Any:
        """One fenced UPDATE of the whole row; returns ``atom_detail`` (what is stored)."""
        atoms = self.tables.atomdetails
        values = _update_values(atom_detail.to_dict())
        fingerprint = _fingerprint(values)

        def work(conn: Connection) -> tuple[Any, Callable[[], None]]:
            result = conn.execute(self.tables.fenced_update(atoms, tuple(values)),
                                  self._params(atom_detail.uuid, values))
            if _rowcount(result) == 0:
                self._refused(conn, f"No atom details found with uuid '{atom_detail.uuid}'")

            def committed() -> None:
                if atom_detail.uuid in self._atoms:
                    self._atoms[atom_detail.uuid] = fingerprint
            return atom_detail, committed

        what = f"updating atom details {atom_detail.uuid}"
        if self.group_writes and atom_detail.state not in ATOM_START_STATES:
            return self._defer(what, work, atom_detail)
        return self._write(what, work)

    def rename_atoms(self, names: Mapping[str, str]) -> None:
        """Rename atom details (uuid -> new name), fenced, at once.

        Updates never rewrite a name (as TaskFlow's merge), so a flow whose
        release renamed its atoms has them renamed here, before it resumes.
        """
        atoms = self.tables.atomdetails

        def work(conn: Connection) -> tuple[None, Callable[[], None]]:
            for uuid, name in names.items():
                result = conn.execute(self.tables.fenced_update(atoms, ("name",)),
                                      self._params(uuid, {"name": name}))
                if _rowcount(result) == 0:
                    self._refused(conn, f"No atom details found with uuid '{uuid}'")
            return None, lambda: None

        self._write(f"renaming atom details {', '.join(names)}", work)

    def update_flow_details(self, flow_detail: Any) -> Any:
        """One fenced UPDATE of the flow row, then only the atoms that are new or changed.

        Returns ``flow_detail``, plus (in a copy) any stored atom it lacks, as
        TaskFlow returns what is stored.
        """
        flows = self.tables.flowdetails

        def work(conn: Connection) -> tuple[Any, Callable[[], None]]:
            values = _update_values(flow_detail.to_dict())
            result = conn.execute(self.tables.fenced_update(flows, tuple(values)),
                                  self._params(flow_detail.uuid, values))
            if _rowcount(result) == 0:
                self._refused(conn, f"No flow details found with uuid '{flow_detail.uuid}'")
            written = self._write_atoms(conn, flow_detail)
            if self.on_flow_end is not None and flow_detail.state in FLOW_END_STATES:
                # The job's record ends in the same transaction as its flow.
                self.on_flow_end(conn, flow_detail)
            return written

        what = f"updating flow details {flow_detail.uuid}"
        if self.group_writes and flow_detail.state not in FLOW_STOP_STATES:
            # Nothing TaskFlow reads back differs from what it gave: no writer
            # but this one adds atoms to the job's flow.
            return self._defer(what, work, flow_detail)
        return self._write(what, work)

    def save_logbook(self, book: Any) -> Any:
        """Update (or insert) the book, fenced, then update or insert its flow details.

        Returns ``book``; unlike TaskFlow it does not add the stored flow
        details the given book lacks (nothing in TaskFlow reads them back).
        """
        books, flows = self.tables.logbooks, self.tables.flowdetails

        def work(conn: Connection) -> tuple[Any, Callable[[], None]]:
            row = book.to_dict()
            result = conn.execute(
                update(books).where(books.c.uuid == book.uuid, self._fence_clause)
                .values(_update_values(dict(row))))
            stored_flows: set[str] = set()
            if _rowcount(result) == 1:
                stored_flows.update(conn.scalars(
                    select(flows.c.uuid).where(flows.c.parent_uuid == book.uuid)))
            elif _rowcount(conn.execute(self._fenced_insert(books, row))) == 0:
                # Neither stored nor inserted: the fence no longer holds.
                raise ClaimLost(self.fence.job_id, self.fence.epoch)
            committed: list[Callable[[], None]] = []
            for flow_detail in book:
                if flow_detail.uuid in stored_flows:
                    conn.execute(update(flows).where(flows.c.uuid == flow_detail.uuid)
                                 .values(_update_values(flow_detail.to_dict())))
                    committed.append(self._write_atoms(conn, flow_detail)[1])
                else:
                    conn.execute(insert(flows).values(
                        **flow_detail.to_dict(), parent_uuid=book.uuid))
                    committed.append(self._write_atoms(conn, flow_detail, stored={})[1])

            def all_committed() -> None:
                for done in committed:
                    done()
            return book, all_committed

        return self._write(f"saving logbook {book.uuid}", work)

    def destroy_logbook(self, book_uuid: str) -> None:
        """One fenced DELETE; TaskFlow's foreign keys cascade to its details."""
        books = self.tables.logbooks

        def work(conn: Connection) -> tuple[None, Callable[[], None]]:
            result = conn.execute(
                delete(books).where(books.c.uuid == book_uuid, self._fence_clause))
            if _rowcount(result) == 0:
                self._refused(conn, f"No logbook found with uuid '{book_uuid}'")
            return None, self._forget

        self._write(f"destroying logbook {book_uuid}", work)

    # -- internals -------------------------------------------------------------

    def _write_atoms(self, conn: Connection, flow_detail: Any,
                     stored: dict[str, str | None] | None = None,
                     ) -> tuple[Any, Callable[[], None]]:
        """Insert the atoms of a just written flow detail that are new, update those changed.

        ``stored``: the fingerprints of its stored atoms, when the caller
        knows them (a flow detail it has just inserted has none).
        """
        atoms = self.tables.atomdetails
        known = self._flow_atoms.get(flow_detail.uuid)
        if stored is not None:
            pass
        elif known is None:
            # After the fenced write: the lock it took covers this read.
            stored = {ad.uuid: _fingerprint(_update_values(ad.to_dict()))
                      for ad in self._select_atoms(conn, atoms.c.parent_uuid == flow_detail.uuid)}
        else:
            stored = {uuid: self._atoms[uuid] for uuid in known}
        given: dict[str, str | None] = {}
        new_rows: list[dict[str, Any]] = []
        changed_rows: list[dict[str, Any]] = []
        for ad in flow_detail:
            values = _update_values(ad.to_dict())
            fingerprint = given[ad.uuid] = _fingerprint(values)
            if ad.uuid not in stored:
                new_rows.append({**ad.to_dict(), "parent_uuid": flow_detail.uuid,
                                 "atom_type": tf_models.atom_detail_type(ad)})
            elif fingerprint is None or fingerprint != stored[ad.uuid]:
                changed_rows.append({**values, "b_uuid": ad.uuid})
        if new_rows:
            conn.execute(atoms.insert(), new_rows)
        for row in changed_rows:
            uuid = row.pop("b_uuid")
            conn.execute(self.tables.plain_update(atoms, tuple(row)),
                         {"w_uuid": uuid, **{f"v_{k}": v for k, v in row.items()}})
        returned = flow_detail
        missing = stored.keys() - given.keys()
        if missing:
            returned = flow_detail.copy()
            for ad in self._select_atoms(conn, atoms.c.uuid.in_(sorted(missing))):
                returned.add(ad)

        def committed() -> None:
            self._atoms.update(stored)
            self._atoms.update(given)
            self._flow_atoms[flow_detail.uuid] = set(stored) | set(given)
        return returned, committed

    def _params(self, uuid: str, values: Mapping[str, Any]) -> dict[str, Any]:
        params = {f"v_{name}": value for name, value in values.items()}
        params.update(w_uuid=uuid, f_job=self.fence.job_id, f_epoch=self.fence.epoch)
        return params

    def _select_atoms(self, conn: Connection, condition: ColumnElement[bool]) -> Iterable[Any]:
        for row in conn.execute(select(self.tables.atomdetails).where(condition)):
            values = dict(row._mapping)
            atom_class = tf_models.atom_detail_class(values.pop("atom_type"))
            yield atom_class.from_dict(values)

    def _fenced_insert(self, table: Table, row: Mapping[str, Any]) -> Any:
        """``INSERT INTO table SELECT <row> WHERE <fence>``: an insert that is its own fence."""
        names = list(row)
        values = select(*[bindparam(f"v_{name}", row[name], type_=table.c[name].type)
                          for name in names]).where(self._fence_clause)
        # Without preserve_rowcount SQLAlchemy reports -1 for an INSERT on
        # psycopg, and a refused insert would look like a success.
        return insert(table).from_select(names, values).execution_options(
            preserve_rowcount=True)

    def _refused(self, conn: Connection, not_found: str) -> NoReturn:
        """After a write changed nothing: the claim moved on, or the detail is missing."""
        jobs = self.tables.jobs
        epoch = conn.scalar(select(jobs.c.claim_epoch).where(jobs.c.id == self.fence.job_id))
        if epoch != self.fence.epoch:
            raise ClaimLost(self.fence.job_id, self.fence.epoch)
        raise tf_exc.NotFound(not_found)

    def _forget(self) -> None:
        self._atoms.clear()
        self._flow_atoms.clear()

    def _read(self, what: str, read: Callable[[], T]) -> T:
        """``read`` (TaskFlow's own), waiting out an outage or a dropped connection as
        writes do: the first use of a pooled connection after a database restart fails."""
        delay = FIRST_RETRY_DELAY
        while True:
            try:
                return read()
            except tf_exc.StorageFailure as exc:
                cause = exc.cause
                if cause is None or not is_transient(cause, self._transient,
                                                     self._engine.dialect.name):
                    raise
                if not self.fence.keep_waiting(delay):
                    raise StorageUnavailable(
                        f"job {self.fence.job_id}: gave up {what}: {_reason(cause)}"
                    ) from exc
                delay = min(delay * 2, MAX_RETRY_DELAY)

    @property
    def pending(self) -> int:
        """Writes deferred and not yet committed."""
        return len(self._pending)

    def flush(self) -> None:
        """Commit the deferred writes now, in one transaction (nothing when there are none)."""
        if self._pending:
            self._write("storing deferred writes", None)

    def discard(self) -> None:
        """Drop the deferred writes: the claim is gone, or the run is abandoned."""
        with self._lock:
            self._pending.clear()

    def _defer(self, what: str, work: _Work[T], result: T) -> T:
        with self._lock:
            self._pending.append((what, work))
        return result

    def _write(self, what: str, work: _Work[T] | None) -> T:
        """Run the deferred writes and ``work`` in one transaction; through an outage,
        retry while the fence allows. ``work`` None: only the deferred ones."""
        delay = FIRST_RETRY_DELAY
        waiting_since: float | None = None
        with self._lock:
            works = [*self._pending, *([(what, work)] if work is not None else [])]
            while True:
                try:
                    result = self._run_all(works)
                except sa_exc.SQLAlchemyError as exc:
                    if not is_transient(exc, self._transient, self._engine.dialect.name):
                        self._pending.clear()
                        raise tf_exc.StorageFailure(f"Failed {what}: {_reason(exc)}",
                                                    cause=exc) from exc
                    if waiting_since is None:
                        waiting_since = time.monotonic()
                        LOG.warning("job %s: %s failed (%s); retrying until the database "
                                    "is back", self.fence.job_id, what, _reason(exc))
                    if not self.fence.keep_waiting(delay):
                        self._pending.clear()
                        raise StorageUnavailable(
                            f"job {self.fence.job_id}: gave up {what} after "
                            f"{time.monotonic() - waiting_since:.1f}s: {_reason(exc)}"
                        ) from exc
                    delay = min(delay * 2, MAX_RETRY_DELAY)
                    continue
                except BaseException:
                    # Refused by the fence, or a detail missing: nothing of
                    # this transaction, deferred writes included, is kept.
                    self._pending.clear()
                    raise
                self._pending.clear()
                if waiting_since is not None:
                    LOG.info("job %s: %s went through after %.1fs of waiting",
                             self.fence.job_id, what, time.monotonic() - waiting_since)
                return cast(T, result)

    def _run_all(self, works: list[tuple[str, _Work[Any]]]) -> Any:
        """One transaction for ``works``; returns the last one's result.

        Each work's cache update runs as soon as it has run, since the next
        one may read the cache (two writes of one flow detail); any failure
        forgets the whole cache, which may no longer match the rows.
        """
        result: Any = None
        try:
            with self._engine.begin() as conn:
                for _what, work in works:
                    result, committed = work(conn)
                    committed()
        except BaseException:
            self._forget()
            raise
        return result


def _update_values(row: dict[str, Any]) -> dict[str, Any]:
    for name in _KEPT_ON_UPDATE:
        row.pop(name, None)
    return row


def _fingerprint(values: Mapping[str, Any]) -> str | None:
    """The serialized row, to tell a changed atom; None (always rewrite) if it has none."""
    try:
        return jsoncodec.dumps(values)
    except (TypeError, ValueError):
        return None


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


def _reason(exc: BaseException) -> str:
    cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"
