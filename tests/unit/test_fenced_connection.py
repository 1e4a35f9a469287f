"""The fenced TaskFlow backend on a SQLite file: how it is built, and how it waits.

A lock held by another SQLite connection stands in for an unavailable
database: a write retries "database is locked" with growing delays for as
long as its fence allows. (The fencing itself, TaskFlow's contract and a real
PostgreSQL outage are covered in tests/integration.)
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from taskflow import states
from taskflow.persistence import models

import persistence
from persistence.database import _TRANSIENT_ERRORS
from persistence.models import JobRow
from persistence.taskflow_backend import MAX_RETRY_DELAY, is_transient
from tests.helpers import wait_for

_LOGGER = "persistence.taskflow_backend"


@dataclass(frozen=True)
class CountingFence(persistence.Fence):
    """A fence that records the delays it is asked to wait, and stops after ``patience``."""

    patience: int = 0
    delays: list[float] = field(default_factory=list, compare=False)

    def keep_waiting(self, delay: float) -> bool:
        self.delays.append(delay)
        return len(self.delays) < self.patience


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "fenced.sqlite"


@pytest.fixture
def database(sqlite_path: Path) -> Iterator[persistence.Database]:
    """A migrated database whose engine gives up on a held lock after 50 ms, not 30 s."""
    engine = persistence.create_engine(f"sqlite:///{sqlite_path}")
    event.listen(engine, "connect", _short_busy_timeout)
    database = persistence.Database(engine)
    database.upgrade()
    try:
        yield database
    finally:
        database.close()
        engine.dispose()


def _short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA busy_timeout=50")


def add_job(database: persistence.Database) -> str:
    job_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    with database.session() as session:
        session.execute(sa.insert(JobRow.__table__).values(
            id=job_id, flow_name="unit", state="RUNNING", store={}, created_at=now,
            updated_at=now, logbook_id=str(uuid.uuid4()), flow_detail_id=str(uuid.uuid4()),
            claim_epoch=1))
    return job_id


def saved_task(connection: Any) -> Any:
    book = models.LogBook("unit")
    flow = models.FlowDetail("flow", uuid=str(uuid.uuid4()))
    task = models.TaskDetail("task", uuid=str(uuid.uuid4()))
    flow.add(task)
    book.add(flow)
    connection.save_logbook(book)
    return task


def write_lock(path: Path) -> sqlite3.Connection:
    """Another connection holding SQLite's one write lock until it commits."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_fenced_backends_are_light_and_share_one_set_of_tables(
        database: persistence.Database) -> None:
    job_id = add_job(database)
    first = database.taskflow_backend(persistence.Fence(job_id, 1))
    second = database.taskflow_backend(persistence.Fence(job_id, 1))
    assert isinstance(first, persistence.FencedBackend)
    assert first is not second
    assert first.get_connection() is first.get_connection()
    assert first.get_connection().tables is second.get_connection().tables
    assert database.taskflow_backend() is database.taskflow_backend()
    assert not isinstance(database.taskflow_backend().get_connection(),
                          persistence.FencedConnection)


def _error(kind: type[sa_exc.DBAPIError], message: str) -> sa_exc.DBAPIError:
    return kind("UPDATE atomdetails ...", {}, Exception(message))


@pytest.mark.parametrize(("error", "dialect", "transient"), [
    (_error(sa_exc.OperationalError, "database is locked"), "sqlite", True),
    (_error(sa_exc.OperationalError, "no such table: atomdetails"), "sqlite", False),
    (_error(sa_exc.OperationalError, "connection refused"), "postgresql", True),
    (_error(sa_exc.InterfaceError, "connection already closed"), "postgresql", True),
    (_error(sa_exc.DataError, "invalid input syntax for type json"), "postgresql", False),
    (_error(sa_exc.IntegrityError, "duplicate key"), "sqlite", False),
])
def test_which_errors_a_write_waits_out(error: sa_exc.DBAPIError, dialect: str,
                                        transient: bool) -> None:
    assert is_transient(error, _TRANSIENT_ERRORS, dialect) is transient


def test_a_locked_database_is_waited_out(database: persistence.Database, sqlite_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=_LOGGER)
    connection = database.taskflow_backend(
        persistence.Fence(add_job(database), 1)).get_connection()
    task = saved_task(connection)
    holder = write_lock(sqlite_path)
    task.state, task.results = states.SUCCESS, "after the lock"
    errors: list[BaseException] = []

    def write() -> None:
        try:
            connection.update_atom_details(task)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    wait_for(lambda: any(r.levelno == logging.WARNING for r in caplog.records), timeout=10,
             message="the write to start waiting")
    assert writer.is_alive()
    holder.execute("COMMIT")
    holder.close()
    wait_for(lambda: not writer.is_alive(), timeout=10, message="the write to land")
    assert errors == []
    stored = database.taskflow_backend().get_connection().get_atom_details(task.uuid)
    assert stored.results == "after the lock"
    assert [r.levelno for r in caplog.records if r.name == _LOGGER] == [
        logging.WARNING, logging.INFO]


def test_the_fence_decides_when_to_give_up(database: persistence.Database,
                                           sqlite_path: Path) -> None:
    fence = CountingFence(add_job(database), 1, patience=9)
    connection = database.taskflow_backend(fence).get_connection()
    task = saved_task(connection)
    holder = write_lock(sqlite_path)
    try:
        task.state = states.SUCCESS
        with pytest.raises(persistence.StorageUnavailable) as caught:
            connection.update_atom_details(task)
    finally:
        holder.close()
    assert isinstance(caught.value.__cause__, sa_exc.OperationalError)
    assert caught.value.retryable
    assert fence.delays == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, MAX_RETRY_DELAY, MAX_RETRY_DELAY,
                            MAX_RETRY_DELAY]
    stored = database.taskflow_backend().get_connection().get_atom_details(task.uuid)
    assert stored.state is None


def stored_state(database: persistence.Database, task: Any) -> str:
    return database.taskflow_backend().get_connection().get_atom_details(task.uuid).state


def test_grouped_an_atoms_end_waits_for_the_next_atoms_start(
        database: persistence.Database) -> None:
    connection = database.taskflow_backend(
        persistence.Fence(add_job(database), 1)).get_connection()
    first, second = saved_task(connection), saved_task(connection)
    commits: list[int] = []
    event.listen(database.engine, "commit", lambda _conn: commits.append(1))
    connection.group_writes = True
    first.state = states.SUCCESS
    assert connection.update_atom_details(first) is first
    assert commits == []
    assert stored_state(database, first) is None  # as saved: no state yet
    assert connection.pending == 1
    commits.clear()
    second.state = states.RUNNING  # its execute comes next: all before it is stored
    connection.update_atom_details(second)
    assert connection.pending == 0 and len(commits) == 1  # both in one transaction
    assert (stored_state(database, first), stored_state(database, second)) == (
        states.SUCCESS, states.RUNNING)


def test_grouped_writes_are_stored_before_a_read_or_on_flush(
        database: persistence.Database) -> None:
    connection = database.taskflow_backend(
        persistence.Fence(add_job(database), 1)).get_connection()
    task = saved_task(connection)
    connection.group_writes = True
    task.state = states.SUCCESS
    connection.update_atom_details(task)
    assert connection.get_atom_details(task.uuid).state == states.SUCCESS
    task.state = states.REVERTED
    connection.update_atom_details(task)
    connection.flush()
    assert stored_state(database, task) == states.REVERTED


def test_grouped_writes_of_a_lost_claim_are_refused_together(
        database: persistence.Database) -> None:
    job_id = add_job(database)
    connection = database.taskflow_backend(persistence.Fence(job_id, 1)).get_connection()
    first, second = saved_task(connection), saved_task(connection)
    connection.group_writes = True
    first.state = states.SUCCESS
    connection.update_atom_details(first)
    with database.session() as session:  # another conductor claims the job
        session.execute(sa.update(JobRow.__table__).where(JobRow.__table__.c.id == job_id)
                        .values(claim_epoch=2))
    second.state = states.RUNNING
    with pytest.raises(persistence.ClaimLost):
        connection.update_atom_details(second)
    assert connection.pending == 0
    assert (stored_state(database, first), stored_state(database, second)) == (
        None, None)
