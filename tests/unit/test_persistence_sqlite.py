"""Repository, engine and TaskFlow-backend behaviour on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import Engine, delete, insert
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool, StaticPool
from taskflow.persistence import models as tf_models

from persistence import (
    JOBS,
    Database,
    JobRecord,
    JobState,
    PersistenceError,
    SchemaError,
    create_engine,
    get_job,
    list_jobs,
)
from tests.jobrows import insert_job, set_columns

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)




def new_job(db: Database, flow_name: str = "phone-calls", **store: Any) -> JobRecord:
    return insert_job(db, flow_name, store=store, state=JobState.POSTING)


def fetch(db: Database, job_id: str) -> JobRecord:
    with db.session() as session:
        record = get_job(session, job_id)
    assert record is not None
    return record


def set_column(db: Database, job_id: str, column: str, value: Any) -> None:
    # Pins a value the product would set from the clock, so tests about
    # ordering do not depend on clock resolution.
    set_columns(db, job_id, **{column: value})


def test_add_and_get_round_trip(db: Database) -> None:
    store = {"phone": "+49 30 1234", "tries": 3, "ratio": 0.5, "tags": ["a", "ü"]}
    store["nested"] = {"none": None, "flag": True}
    before = datetime.now(UTC)
    added = new_job(db, "create-volume", **store)
    after = datetime.now(UTC)

    loaded = fetch(db, added.id)

    assert loaded == added
    assert loaded.state is JobState.POSTING
    assert loaded.store == store
    assert loaded.attempts == 0 and loaded.claim_epoch == 0
    assert loaded.owner is None
    assert loaded.started_at is None and loaded.finished_at is None
    for stamp in (loaded.created_at, loaded.updated_at):
        assert stamp.utcoffset() == timedelta(0)
        assert before <= stamp <= after


def test_get_unknown_job_is_none(db: Database) -> None:
    with db.session() as session:
        assert get_job(session, "no-such-job") is None


def test_list_jobs_filters_and_orders_newest_first(db: Database) -> None:
    flows = ["phone-calls", "create-volume", "phone-calls"]
    old, mid, new = (new_job(db, flow).id for flow in flows)
    for hours, job_id in enumerate([old, mid, new]):
        set_column(db, job_id, "created_at", T0 + timedelta(hours=hours))
    set_columns(db, mid, state="RUNNING", owner="conductor-a")
    set_columns(db, old, state="SUCCESS")

    def ids(**filters: Any) -> list[str]:
        with db.session() as session:
            return [job.id for job in list_jobs(session, **filters)]

    assert ids() == [new, mid, old]
    assert ids(limit=2) == [new, mid]
    assert ids(states=[JobState.RUNNING]) == [mid]
    assert ids(states=[JobState.SUCCESS, JobState.POSTING]) == [new, old]
    assert ids(states=[]) == []
    assert ids(flow_name="phone-calls") == [new, old]
    assert ids(flow_name="phone-calls", states=[JobState.POSTING]) == [new]
    assert ids(since=T0 + timedelta(hours=1)) == [new, mid]
    # The same instant in another zone selects the same rows.
    plus_five = timezone(timedelta(hours=5))
    assert ids(since=(T0 + timedelta(hours=1)).astimezone(plus_five)) == [new, mid]
    assert ids(since=T0 + timedelta(hours=1, microseconds=1)) == [new]


def test_list_jobs_breaks_created_at_ties_by_id(db: Database) -> None:
    first, second = new_job(db), new_job(db)
    for job in (first, second):
        set_column(db, job.id, "created_at", T0)
    with db.session() as session:
        listed = [job.id for job in list_jobs(session)]
    assert listed == sorted([first.id, second.id], reverse=True)


def test_list_jobs_rejects_naive_since(db: Database) -> None:
    with pytest.raises(ValueError, match="timezone-aware"), db.session() as session:
        list_jobs(session, since=datetime(2024, 1, 1))


def _insert_again(session: Session, record: JobRecord) -> None:
    values = {c.name: getattr(record, c.name, None) for c in JOBS.c}
    values["state"] = record.state.value
    session.execute(insert(JOBS).values(**values))


def test_session_rolls_back_on_error(db: Database) -> None:
    job = new_job(db)
    with db.session() as session:
        session.execute(delete(JOBS).where(JOBS.c.id == job.id))
    with pytest.raises(RuntimeError), db.session() as session:
        _insert_again(session, job)
        raise RuntimeError("caller failed after the insert")
    with db.session() as session:
        assert get_job(session, job.id) is None


def test_database_errors_become_persistence_errors(db: Database) -> None:
    job = new_job(db)
    with pytest.raises(PersistenceError) as info, db.session() as session:
        _insert_again(session, job)
    assert info.value.retryable is False
    assert "IntegrityError" in str(info.value)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_bare_postgresql_url_is_refused(scheme: str) -> None:
    with pytest.raises(PersistenceError) as info:
        create_engine(f"{scheme}://orch:s3cret@db.example:5432/orchestrator")
    message = str(info.value)
    assert "postgresql+psycopg://" in message
    assert "db.example" in message
    assert "s3cret" not in message


def test_unreachable_database_is_a_schema_error_without_password() -> None:
    # Port 1 on loopback: nothing listens, so the connection is refused at once.
    db = Database("postgresql+psycopg://orch:s3cret@127.0.0.1:1/orchestrator")
    try:
        with pytest.raises(SchemaError) as info:
            db.schema_current()
    finally:
        db.close()
    assert "127.0.0.1:1" in str(info.value)
    assert "s3cret" not in str(info.value)
    assert info.value.retryable is True
    assert db.url == "postgresql+psycopg://orch:***@127.0.0.1:1/orchestrator"


def test_sqlite_file_engine_settings(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "dir" / "orchestrator.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            }
            synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    finally:
        engine.dispose()
    assert path.parent.is_dir()
    assert pragmas == {"journal_mode": "wal", "busy_timeout": 30000, "foreign_keys": 1}
    assert synchronous == 1  # NORMAL
    assert not isinstance(engine.pool, NullPool | StaticPool)


def test_in_memory_sqlite_shares_one_connection() -> None:
    db = Database("sqlite://")
    try:
        assert isinstance(db.engine.pool, StaticPool)
        db.upgrade()
        job = new_job(db)
        assert fetch(db, job.id) == job
    finally:
        db.close()


def test_schema_current_follows_upgrade(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        assert db.schema_current() is False
        with pytest.raises(SchemaError, match="upgrade"):
            db.require_current_schema()
        db.upgrade()
        assert db.schema_current() is True
        db.require_current_schema()
    finally:
        db.close()


def test_database_leaves_a_given_engine_open(sqlite_url: str) -> None:
    engine: Engine = create_engine(sqlite_url)
    db = Database(engine)
    db.upgrade()
    db.close()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    engine.dispose()


def test_taskflow_backend_is_cached_and_shares_the_engine(db: Database) -> None:
    backend = db.taskflow_backend()
    assert db.taskflow_backend() is backend
    assert backend.engine is db.engine
    assert backend.get_connection() is backend.get_connection()


def test_taskflow_backend_saves_and_loads_a_logbook(db: Database, sqlite_url: str) -> None:
    book = tf_models.LogBook("book-1")
    flow = tf_models.FlowDetail("flow-1", str(uuid4()))
    flow.meta = {"factory": {"name": "phone-calls"}, "store": {"phone": "123"}}
    task = tf_models.TaskDetail("call", str(uuid4()))
    flow.add(task)
    book.add(flow)

    db.taskflow_backend().get_connection().save_logbook(book)

    # A second Database on the same file proves the rows reached the disk.
    other = Database(sqlite_url)
    try:
        loaded = other.taskflow_backend().get_connection().get_logbook(book.uuid)
    finally:
        other.close()
    assert loaded.name == "book-1"
    loaded_flow = loaded.find(flow.uuid)
    assert loaded_flow is not None
    assert loaded_flow.name == "flow-1"
    assert loaded_flow.meta == flow.meta
    assert [atom.name for atom in loaded_flow] == ["call"]
