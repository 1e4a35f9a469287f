"""Retention on each database: old finished jobs go with all they left, nothing else does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
import sqlalchemy as sa
from taskflow.persistence import models

import jobs
import persistence
from tests.helpers import wait_for
from tests.jobrows import insert_job

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=2)
TASKS_PER_JOB = 3


class Made(NamedTuple):
    job_id: str
    book: str
    flow: str


def make_job(db: persistence.Database, state: str, finished_at: datetime | None) -> Made:
    """A job row with a logbook of one flow detail and its task rows, two
    attempts and a conductor that passed it over."""
    book = models.LogBook("retention", uuid=str(uuid.uuid4()))
    flow = models.FlowDetail("flow", uuid=str(uuid.uuid4()))
    for n in range(TASKS_PER_JOB):
        flow.add(models.TaskDetail(f"task-{n}", uuid=str(uuid.uuid4())))
    book.add(flow)
    with db.session() as session:
        db.insert_logbook(session.connection(), book)
    created = (finished_at or NOW) - timedelta(hours=1)
    record = insert_job(db, state=state, created_at=created, updated_at=created,
                        started_at=created, finished_at=finished_at, attempts=2,
                        logbook_id=book.uuid, flow_detail_id=flow.uuid)
    with db.session() as session:
        session.execute(sa.insert(persistence.ATTEMPTS), [
            {"job_id": record.id, "number": n, "conductor": "c1", "started_at": created,
             "ended_at": finished_at, "outcome": None, "job_state": state}
            for n in (1, 2)])
        session.execute(sa.insert(persistence.PASSES).values(
            job_id=record.id, conductor="c2", reason="it lacks the flow", passed_at=created))
    return Made(record.id, book.uuid, flow.uuid)


def rows_of(db: persistence.Database, made: Made) -> dict[str, int]:
    """How many rows of each table belong to the job."""
    queries = {
        "orchestrator_jobs": ("SELECT count(*) FROM orchestrator_jobs WHERE id = :v", made.job_id),
        "orchestrator_attempts": (
            "SELECT count(*) FROM orchestrator_attempts WHERE job_id = :v", made.job_id),
        "orchestrator_job_passes": (
            "SELECT count(*) FROM orchestrator_job_passes WHERE job_id = :v", made.job_id),
        "logbooks": ("SELECT count(*) FROM logbooks WHERE uuid = :v", made.book),
        "flowdetails": ("SELECT count(*) FROM flowdetails WHERE parent_uuid = :v", made.book),
        "atomdetails": ("SELECT count(*) FROM atomdetails WHERE parent_uuid = :v", made.flow),
    }
    with db.engine.connect() as conn:
        return {table: conn.execute(sa.text(sql), {"v": value}).scalar_one()
                for table, (sql, value) in queries.items()}


WHOLE = {"orchestrator_jobs": 1, "orchestrator_attempts": 2, "orchestrator_job_passes": 1,
         "logbooks": 1, "flowdetails": 1, "atomdetails": TASKS_PER_JOB}
GONE = dict.fromkeys(WHOLE, 0)


@pytest.fixture
def mix(database: persistence.Database) -> dict[str, Made]:
    """Old and recent finished jobs, and old jobs that have not finished."""
    return {
        "old SUCCESS": make_job(database, "SUCCESS", OLD),
        "old REVERTED": make_job(database, "REVERTED", OLD),
        "old FAILED": make_job(database, "FAILED", OLD - timedelta(days=100)),
        "recent SUCCESS": make_job(database, "SUCCESS", RECENT),
        "old RUNNING": make_job(database, "RUNNING", None),
        "old POSTED": make_job(database, "POSTED", None),
        # Finished once, then taken up again (a revert resumed, say).
        "old SUSPENDED with an end": make_job(database, "SUSPENDED", OLD),
    }


def test_old_finished_jobs_go_with_everything_they_left(
        database: persistence.Database, mix: dict[str, Made]) -> None:
    result = jobs.purge(database, timedelta(days=30), now=NOW, batch_size=2)

    assert (result.jobs, result.tasks, result.batches) == (3, 3 * TASKS_PER_JOB, 2)
    assert result.cutoff == NOW - timedelta(days=30) and not result.dry_run
    for name, made in mix.items():
        expected = GONE if name.startswith("old ") and name.split()[1] in (
            "SUCCESS", "REVERTED", "FAILED") else WHOLE
        assert rows_of(database, made) == expected, name
    # Nothing is left to delete: a second purge is harmless.
    again = jobs.purge(database, timedelta(days=30), now=NOW)
    assert (again.jobs, again.tasks, again.batches) == (0, 0, 0)


def test_dry_run_deletes_nothing_and_counts_what_would_go(
        database: persistence.Database, mix: dict[str, Made]) -> None:
    dry = jobs.purge(database, timedelta(days=30), now=NOW, batch_size=2, dry_run=True)

    assert dry.dry_run and (dry.jobs, dry.tasks, dry.batches) == (3, 3 * TASKS_PER_JOB, 2)
    for name, made in mix.items():
        assert rows_of(database, made) == WHOLE, name
    real = jobs.purge(database, timedelta(days=30), now=NOW, batch_size=2)
    assert (real.jobs, real.tasks, real.batches) == (dry.jobs, dry.tasks, dry.batches)


def test_many_small_batches_delete_every_old_job(database: persistence.Database) -> None:
    made = [make_job(database, "SUCCESS", OLD - timedelta(minutes=n)) for n in range(7)]

    result = jobs.purge(database, timedelta(days=30), now=NOW, batch_size=3)

    assert (result.jobs, result.batches) == (7, 3)
    assert all(rows_of(database, m) == GONE for m in made)


def test_age_and_batch_size_must_make_sense(database: persistence.Database) -> None:
    with pytest.raises(ValueError, match="negative"):
        jobs.purge(database, timedelta(days=-1))
    with pytest.raises(ValueError, match="batch_size"):
        jobs.purge(database, timedelta(days=1), batch_size=0)


def test_a_conductors_purger_deletes_in_the_background(
        database: persistence.Database) -> None:
    old = make_job(database, "SUCCESS", datetime.now(UTC) - timedelta(days=31))
    recent = make_job(database, "SUCCESS", datetime.now(UTC) - timedelta(days=29))
    purger = jobs.Purger(database, jobs.RetentionSettings(
        max_age=30 * 86400.0, batch_size=1, interval=0.05))

    def purged() -> bool:
        purger.purge_if_due()  # the loop's call, turn after turn
        return rows_of(database, old) == GONE

    try:
        wait_for(purged, timeout=30, message="the purger to delete the old job")
    finally:
        purger.stop()
    assert rows_of(database, recent) == WHOLE


def test_a_purger_with_no_max_age_never_deletes(database: persistence.Database) -> None:
    old = make_job(database, "SUCCESS", datetime.now(UTC) - timedelta(days=3000))
    purger = jobs.Purger(database, jobs.RetentionSettings(max_age=0, interval=0.01))
    assert not purger.purge_if_due()
    assert rows_of(database, old) == WHOLE
