"""Fenced TaskFlow writes on real databases: refused after a newer claim, lean, patient.

A ``FencedConnection`` writes for one claim of one job. These tests move the
job's ``claim_epoch`` the way a claim does and check that the database then
refuses every write, that a claim waits for a write in flight (PostgreSQL),
that a state change costs one statement, and that a write outlives a real
PostgreSQL outage unless its fence says to give up.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from taskflow import exceptions as tf_exc
from taskflow import states
from taskflow.persistence import models
from taskflow.types import failure

import persistence
from tests.helpers import wait_for
from tests.integration.test_taskflow_persistence_contract import add_job_row, bump_epoch
from tests.services import LocalPostgres

pytestmark = pytest.mark.integration

_TABLES = ("logbooks", "flowdetails", "atomdetails")
_BACKEND_LOGGER = "persistence.taskflow_backend"


def new_book() -> tuple[Any, Any, Any]:
    book = models.LogBook("fenced", uuid=_uuid())
    flow = models.FlowDetail("flow", uuid=_uuid())
    task = models.TaskDetail("task", uuid=_uuid())
    flow.add(task)
    book.add(flow)
    return book, flow, task


def _uuid() -> str:
    return str(uuid.uuid4())


def stored_rows(database: persistence.Database) -> dict[str, list[tuple[Any, ...]]]:
    with database.engine.connect() as conn:
        return {table: [tuple(row) for row in conn.execute(
                    sa.text(f"SELECT * FROM {table} ORDER BY uuid"))]
                for table in _TABLES}


def stored_atom(database: persistence.Database, uuid: str) -> Any:
    return database.taskflow_backend().get_connection().get_atom_details(uuid)


@dataclass
class Outcome:
    """What a call made in another thread returned or raised, once ``done``."""

    result: Any = None
    error: BaseException | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def done(self) -> bool:
        return self.finished.is_set()


def in_thread(call: Callable[[], Any]) -> Outcome:
    outcome = Outcome()

    def run() -> None:
        try:
            outcome.result = call()
        except BaseException as exc:  # handed to the test thread
            outcome.error = exc
        finally:
            outcome.finished.set()

    threading.Thread(target=run, daemon=True).start()
    return outcome


class StatementLog:
    """Every statement the engine sends, as its verb and first table: ``UPDATE atomdetails``."""

    _TABLE = re.compile(r"^(?:UPDATE|INSERT\s+INTO|DELETE\s+FROM|SELECT\s.*?\bFROM)\s+(\w+)",
                        re.S)

    def __init__(self, engine: sa.Engine) -> None:
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        match = self._TABLE.match(statement.strip())
        table = match.group(1) if match else "?"
        self.statements.append(f"{statement.split()[0]} {table}")

    def take(self) -> list[str]:
        taken, self.statements = self.statements, []
        return taken


# -- every write method is fenced ------------------------------------------------


def test_every_write_is_refused_once_a_newer_claim_exists(
        database: persistence.Database) -> None:
    fence = add_job_row(database)
    conn = database.taskflow_backend(fence).get_connection()
    book, flow, task = new_book()
    conn.save_logbook(book)
    bump_epoch(database, fence.job_id)
    before = stored_rows(database)

    task.state, task.results = states.SUCCESS, {"late": True}
    flow.state = states.SUCCESS
    flow.add(models.TaskDetail("added", uuid=_uuid()))
    book.add(models.FlowDetail("another", uuid=_uuid()))
    writes: dict[str, Callable[[], Any]] = {
        "update_atom_details": lambda: conn.update_atom_details(task),
        "update_atom_details (missing)": lambda: conn.update_atom_details(
            models.TaskDetail("missing", uuid=_uuid())),
        "update_flow_details": lambda: conn.update_flow_details(flow),
        "save_logbook (stored)": lambda: conn.save_logbook(book),
        "save_logbook (new)": lambda: conn.save_logbook(models.LogBook("new")),
        "destroy_logbook": lambda: conn.destroy_logbook(book.uuid),
    }
    for name, write in writes.items():
        with pytest.raises(persistence.ClaimLost) as caught:
            write()
        assert caught.value.epoch == fence.epoch, name
    assert stored_rows(database) == before


def test_the_current_claim_writes_and_finds_missing_details(
        database: persistence.Database) -> None:
    fence = add_job_row(database)
    conn = database.taskflow_backend(fence).get_connection()
    book, flow, task = new_book()
    conn.save_logbook(book)
    task.state, task.results = states.SUCCESS, [1, 2]
    conn.update_atom_details(task)
    assert stored_atom(database, task.uuid).results == [1, 2]
    with pytest.raises(tf_exc.NotFound):
        conn.update_atom_details(models.TaskDetail("missing", uuid=_uuid()))
    with pytest.raises(tf_exc.NotFound):
        conn.update_flow_details(models.FlowDetail("missing", uuid=_uuid()))
    with pytest.raises(tf_exc.NotFound):
        conn.destroy_logbook(_uuid())
    with pytest.raises(tf_exc.NotImplementedError):
        conn.clear_all()
    conn.destroy_logbook(book.uuid)
    assert stored_rows(database) == {table: [] for table in _TABLES}


# -- lean: one statement per state change, no SELECT before an UPDATE ---------------


def test_a_state_change_is_one_statement(database: persistence.Database) -> None:
    fence = add_job_row(database)
    book, flow, task = new_book()
    database.taskflow_backend(fence).get_connection().save_logbook(book)
    # A backend of its own, as a conductor's engine gets: it knows no flow detail.
    conn = database.taskflow_backend(fence).get_connection()
    log = StatementLog(database.engine)

    flow.state = states.RUNNING
    conn.update_flow_details(flow)
    # Its atoms are read once, after the fenced UPDATE and under its lock.
    assert log.take() == ["UPDATE flowdetails", "SELECT atomdetails"]

    task.state = states.RUNNING
    conn.update_atom_details(task)
    assert log.take() == ["UPDATE atomdetails"]

    flow.state = states.SUCCESS
    conn.update_flow_details(flow)
    assert log.take() == ["UPDATE flowdetails"]

    flow.add(models.TaskDetail("second", uuid=_uuid()))
    flow.add(models.RetryDetail("third", uuid=_uuid()))
    conn.update_flow_details(flow)
    assert log.take() == ["UPDATE flowdetails", "INSERT atomdetails"]

    # Changed in place and saved through its flow detail: that atom alone is rewritten.
    task.results = {"answer": 42}
    task.meta["progress"] = 1.0
    conn.update_flow_details(flow)
    assert log.take() == ["UPDATE flowdetails", "UPDATE atomdetails"]
    stored = stored_atom(database, task.uuid)
    assert (stored.results, stored.meta) == ({"answer": 42}, {"progress": 1.0})
    log.take()
    conn.update_flow_details(flow)
    assert log.take() == ["UPDATE flowdetails"]


def test_a_flow_update_returns_the_stored_atoms_it_was_not_given(
        database: persistence.Database) -> None:
    conn = database.taskflow_backend(add_job_row(database)).get_connection()
    book, flow, task = new_book()
    conn.save_logbook(book)
    partial = models.FlowDetail(flow.name, uuid=flow.uuid)
    partial.state = states.RUNNING
    returned = conn.update_flow_details(partial)
    assert [ad.uuid for ad in returned] == [task.uuid]
    assert len(partial) == 0


def test_rows_are_written_in_taskflows_own_format(database: persistence.Database) -> None:
    """The same details written by TaskFlow's Connection and by ours give the same rows."""
    try:
        raise ValueError("boom", 3)
    except ValueError:
        boom = failure.Failure()
    written: list[dict[str, Any]] = []
    for conn in (database.taskflow_backend().get_connection(),
                 database.taskflow_backend(add_job_row(database)).get_connection()):
        book = models.LogBook("format", uuid=_uuid())
        book.meta = {"k": [1, "two"]}
        flow = models.FlowDetail("flow", uuid=_uuid())
        task = models.TaskDetail("task", uuid=_uuid())
        task.version = "1.0"
        retry = models.RetryDetail("retry", uuid=_uuid())
        flow.add(task)
        book.add(flow)
        conn.save_logbook(book)
        flow.add(retry)
        flow.state, flow.meta = states.RUNNING, {"m": 1}
        conn.update_flow_details(flow)
        task.put(states.FAILURE, boom)
        task.meta = {"progress": 0.5}
        conn.update_atom_details(task)
        retry.put(states.SUCCESS, {"attempt": 1})
        retry.intention = states.REVERT
        conn.update_atom_details(retry)
        written.append(_rows_of(database, book.uuid))
    assert written[0] == written[1]


def _rows_of(database: persistence.Database, book_uuid: str) -> dict[str, Any]:
    volatile = {"uuid", "parent_uuid", "created_at", "updated_at"}
    with database.engine.connect() as conn:
        flows = conn.execute(sa.text("SELECT * FROM flowdetails WHERE parent_uuid = :b"),
                             {"b": book_uuid}).mappings().all()
        atoms = conn.execute(sa.text(
            "SELECT * FROM atomdetails WHERE parent_uuid = :f ORDER BY name"),
            {"f": flows[0]["uuid"]}).mappings().all()
        book = conn.execute(sa.text("SELECT * FROM logbooks WHERE uuid = :b"),
                            {"b": book_uuid}).mappings().one()

    def strip(row: Any) -> dict[str, Any]:
        return {key: value for key, value in row.items() if key not in volatile}
    return {"book": strip(book), "flows": [strip(r) for r in flows],
            "atoms": [strip(r) for r in atoms],
            "stamped": [r["updated_at"] is not None for r in atoms]}


# -- PostgreSQL: claims and writes serialize on the job row --------------------------


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[persistence.Database]:
    database = persistence.Database(postgres_url)
    database.upgrade()
    yield database
    database.close()


def test_a_claim_waits_for_a_fenced_write_in_flight(pg_database: persistence.Database) -> None:
    database = pg_database
    fence = add_job_row(database)
    conn = database.taskflow_backend(fence).get_connection()
    book, flow, task = new_book()
    conn.save_logbook(book)

    # Hold the write's transaction open right after its fenced UPDATE ran.
    holding, release = threading.Event(), threading.Event()

    def hold(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("UPDATE atomdetails") and not holding.is_set():
            holding.set()
            release.wait(30)

    event.listen(database.engine, "after_cursor_execute", hold)
    try:
        task.state, task.results = states.SUCCESS, "written under epoch 1"
        write = in_thread(lambda: conn.update_atom_details(task))
        wait_for(holding.is_set, timeout=10, message="the fenced write to run its UPDATE")
        with database.engine.connect() as claimer, database.engine.connect() as observer:
            claimer_pid = claimer.scalar(sa.text("SELECT pg_backend_pid()"))

            def claim() -> None:
                claimer.execute(sa.text("UPDATE orchestrator_jobs SET claim_epoch ="
                                        " claim_epoch + 1 WHERE id = :id"), {"id": fence.job_id})
                claimer.commit()

            claiming = in_thread(claim)

            def claim_waits_on_a_lock() -> bool:
                observer.rollback()  # a fresh snapshot of pg_stat_activity each time
                return observer.scalar(sa.text(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": claimer_pid}) == "Lock"

            wait_for(claim_waits_on_a_lock, timeout=10,
                     message="the claim to wait for the writer")
            assert not claiming.done and not write.done
            release.set()
            wait_for(lambda: write.done and claiming.done, timeout=10,
                     message="both to commit")
    finally:
        release.set()
        event.remove(database.engine, "after_cursor_execute", hold)
    assert write.error is None and claiming.error is None
    assert stored_atom(database, task.uuid).results == "written under epoch 1"

    task.results = "too late"
    with pytest.raises(persistence.ClaimLost):
        conn.update_atom_details(task)
    assert stored_atom(database, task.uuid).results == "written under epoch 1"


def test_a_value_postgresql_refuses_is_a_storage_failure(
        pg_database: persistence.Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=_BACKEND_LOGGER)
    conn = pg_database.taskflow_backend(add_job_row(pg_database)).get_connection()
    book, flow, task = new_book()
    conn.save_logbook(book)
    task.state, task.results = states.SUCCESS, float("nan")  # JSON has no NaN
    with pytest.raises(tf_exc.StorageFailure) as caught:
        conn.update_atom_details(task)
    assert isinstance(caught.value.__cause__, sa_exc.DataError)
    assert not caplog.records  # not mistaken for an outage: no waiting
    assert stored_atom(pg_database, task.uuid).state is None


# -- a real PostgreSQL outage (tests/conftest.py's private_postgres: crash-safe) ----


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == _BACKEND_LOGGER and r.levelno == level]


def test_a_write_waits_through_an_outage_until_its_fence_gives_up(
        private_postgres: LocalPostgres, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=_BACKEND_LOGGER)
    server = private_postgres
    server.create_database("outage")
    database = persistence.Database(server.url_for("outage"))
    try:
        database.upgrade()
        fence = add_job_row(database)
        conn = database.taskflow_backend(fence).get_connection()
        book, flow, task = new_book()
        conn.save_logbook(book)

        server.stop()
        task.state, task.results = states.SUCCESS, {"written": "after the outage"}
        write = in_thread(lambda: conn.update_atom_details(task))
        wait_for(lambda: _messages(caplog, logging.WARNING), timeout=30,
                 message="the write to start waiting for the database")
        assert not write.done
        server.start()
        wait_for(lambda: write.done, timeout=60, message="the write to land")
        assert write.error is None
        assert stored_atom(database, task.uuid).results == {"written": "after the outage"}
        assert len(_messages(caplog, logging.WARNING)) == 1
        assert len(_messages(caplog, logging.INFO)) == 1

        # The same claim, but its owner stops waiting (shutting down).
        impatient = persistence.Fence(fence.job_id, fence.epoch)
        conn = database.taskflow_backend(impatient).get_connection()
        server.stop()
        task.results = {"written": "never"}
        write = in_thread(lambda: conn.update_atom_details(task))
        wait_for(lambda: len(_messages(caplog, logging.WARNING)) == 2, timeout=30,
                 message="the second write to start waiting")
        assert not write.done
        impatient.abort.set()
        wait_for(lambda: write.done, timeout=10, message="the write to give up")
        assert isinstance(write.error, persistence.StorageUnavailable)
        assert isinstance(write.error.__cause__, sa_exc.OperationalError)
        server.start()
        assert stored_atom(database, task.uuid).results == {"written": "after the outage"}
    finally:
        database.close()
