"""Our alembic migrations, on SQLite and on a real PostgreSQL.

They must own our tables only: TaskFlow's tables and its ``alembic_version``
belong to TaskFlow's own upgrade.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, inspect, make_url, text

from jobs import Claim, JobLifecycle
from persistence import Database, JobState, list_jobs
from persistence.models import OWNED_TABLES, metadata
from persistence.schema import (
    HEAD_REVISIONS,
    VERSION_TABLE,
    alembic_config,
    current_revisions,
)
from tests.jobrows import insert_job

pytestmark = pytest.mark.integration

TASKFLOW_TABLES = {"logbooks", "flowdetails", "atomdetails"}
OUR_TABLES = {"orchestrator_jobs", "orchestrator_job_passes", "orchestrator_attempts",
              VERSION_TABLE}
DDL_VERBS = ("CREATE", "ALTER", "DROP")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    try:
        yield database
    finally:
        database.close()


def tables(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def our_revisions(db: Database) -> frozenset[str]:
    with db.engine.connect() as conn:
        return current_revisions(conn)


def taskflow_versions(db: Database) -> list[str]:
    """Rows of TaskFlow's own version table (none on SQLite: it uses create_all)."""
    if "alembic_version" not in tables(db):
        return []
    with db.engine.connect() as conn:
        return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def schema_snapshot(db: Database) -> dict[str, Any]:
    with db.engine.connect() as conn:
        inspector = inspect(conn)
        return {
            name: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
                sorted(i["name"] or "" for i in inspector.get_indexes(name)),
            )
            for name in sorted(inspector.get_table_names())
        }


def ours_only(name: str | None, type_: str, _parents: Any) -> bool:
    """Compare our tables only (indexes and columns follow their table)."""
    return type_ != "table" or name in OWNED_TABLES


def model_diffs(conn: Connection) -> list[Any]:
    """What autogenerate would change to make the database match our models."""
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "include_name": ours_only}
    )
    return list(compare_metadata(context, metadata))


def head() -> str:
    (only,) = ScriptDirectory.from_config(alembic_config()).get_heads()
    return only


def test_exactly_one_head_and_one_base() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1
    # What the schema check compares with, without importing alembic.
    assert frozenset(script.get_heads()) == HEAD_REVISIONS


def test_upgrade_from_empty_creates_taskflow_tables_and_ours(db: Database) -> None:
    assert tables(db) == set()
    assert db.schema_current() is False

    db.upgrade()

    assert TASKFLOW_TABLES | OUR_TABLES <= tables(db)
    assert our_revisions(db) == {head()}
    assert db.schema_current() is True
    # Our revisions never land in TaskFlow's version table.
    assert head() not in taskflow_versions(db)
    if db.engine.dialect.name == "postgresql":
        # TaskFlow migrated (rather than create_all): its own version row exists.
        assert len(taskflow_versions(db)) == 1


def parent_indexes(db: Database) -> dict[str, list[list[str | None]]]:
    inspector = inspect(db.engine)
    return {t: [i["column_names"] for i in inspector.get_indexes(t)]
            for t in ("atomdetails", "flowdetails")}


def test_a_jobs_task_rows_are_found_by_index_and_downgrade_removes_ours(
        db: Database) -> None:
    db.upgrade()
    assert all(["parent_uuid"] in found for found in parent_indexes(db).values())
    db.downgrade("0005")
    assert not any(["parent_uuid"] in found for found in parent_indexes(db).values())
    db.upgrade()
    assert all(["parent_uuid"] in found for found in parent_indexes(db).values())


def test_second_upgrade_is_a_no_op(db: Database) -> None:
    db.upgrade()
    before = schema_snapshot(db), taskflow_versions(db), our_revisions(db)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.strip())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        db.upgrade()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)

    assert statements, "the listener saw nothing: the check below proves nothing"
    assert [s for s in statements if s.upper().startswith(DDL_VERBS)] == []
    assert (schema_snapshot(db), taskflow_versions(db), our_revisions(db)) == before


def _upgrade_in_child(url: str, start: Any, results: Any) -> None:
    database = Database(url)
    try:
        start.wait(timeout=60)
        database.upgrade()
        results.put("ok")
    except Exception as exc:  # reported to the parent, which asserts on it
        results.put(f"{type(exc).__name__}: {exc}")
    finally:
        database.close()


def test_concurrent_upgrades_from_several_processes_succeed(db_url: str) -> None:
    # Conductors may all upgrade at start: without serialisation, PostgreSQL
    # fails most of them with duplicate-table errors.
    context = multiprocessing.get_context("spawn")
    count = 4
    start, results = context.Barrier(count), context.Queue()
    children = [
        context.Process(target=_upgrade_in_child, args=(db_url, start, results))
        for _ in range(count)
    ]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=30)
    assert outcomes == ["ok"] * count
    db = Database(db_url)
    try:
        assert db.schema_current() is True
    finally:
        db.close()


def test_downgrade_to_base_removes_only_our_schema(db: Database) -> None:
    db.upgrade()
    taskflow_before = taskflow_versions(db)

    db.downgrade("base")

    remaining = tables(db)
    assert not {"orchestrator_jobs", "orchestrator_job_passes",
                "orchestrator_attempts"} & remaining
    assert our_revisions(db) == frozenset()
    assert TASKFLOW_TABLES <= remaining
    assert taskflow_versions(db) == taskflow_before
    assert db.schema_current() is False

    db.upgrade()
    assert db.schema_current() is True


def test_models_equal_migrations(db: Database) -> None:
    db.upgrade()
    with db.engine.connect() as conn:
        assert model_diffs(conn) == []


def test_comparison_would_notice_a_missing_index(db: Database) -> None:
    # Guards the test above: with one of our indexes gone, the same check fails.
    db.upgrade()
    with db.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_orchestrator_jobs_created_at"))
        diffs = model_diffs(conn)
    assert [(d[0], d[1].name) for d in diffs] == [("add_index", "ix_orchestrator_jobs_created_at")]


def test_migrated_schema_serves_the_repository(db_url: str) -> None:
    url = make_url(db_url)
    if url.get_backend_name() == "postgresql":
        # A session zone far from UTC: values must still come back in UTC.
        url = url.update_query_dict({"options": "-c timezone=Asia/Kolkata"})
    db = Database(url.render_as_string(hide_password=False))
    try:
        db.upgrade()
        added = insert_job(db, store={"phone": "123", "nested": {"n": [1, None]}})
        assert added.board_job_id is not None
        claim = JobLifecycle(db).claim(added.id, added.board_job_id, "conductor-a")
        assert isinstance(claim, Claim)
        claimed = claim.record
        with db.session() as session:
            listed = list_jobs(session, since=added.created_at - timedelta(seconds=1))
    finally:
        db.close()
    assert (claimed.state, claimed.attempts, claimed.claim_epoch) == (JobState.RUNNING, 1, 1)
    assert claimed.created_at == added.created_at
    assert claimed.created_at.tzinfo == UTC
    assert claimed.started_at is not None and claimed.started_at.tzinfo == UTC
    assert listed == [claimed]
    assert listed[0].store == {"phone": "123", "nested": {"n": [1, None]}}
