"""Retention end to end: a conductor purges old finished jobs; ``db purge`` from the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

import persistence
from tests.functional.conftest import Deployment
from tests.helpers import wait_for
from tests.jobrows import set_columns

pytestmark = pytest.mark.functional


def _count(db: persistence.Database, sql: str, **params: object) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(sa.text(sql), params).scalar_one())


def _post_and_finish(deployment: Deployment) -> str:
    posted = deployment.run("post", "bench-10-tasks", "--wait", "--timeout", "90")
    assert posted.returncode == 0, posted.stderr
    job_id, state = posted.stdout.split()
    assert state == "SUCCESS"
    return job_id


def test_conductors_purge_old_jobs_and_db_purge_shows_then_deletes(
        deployment: Deployment) -> None:
    # Retention is on by default (30 days); only its interval is shortened.
    deployment.add_config("[retention]\ninterval = 1\n")
    deployment.start_conductor("c1")
    old, young = _post_and_finish(deployment), _post_and_finish(deployment)
    db = persistence.Database(deployment.db_url)
    try:
        with db.session() as session:
            old_book = persistence.get_job(session, old)
        assert old_book is not None
        tasks = _count(db, "SELECT count(*) FROM atomdetails")
        assert tasks >= 20  # ten tasks each, and TaskFlow's own atoms

        dry = deployment.run("db", "purge", "--older-than", "0s", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert f"would delete 2 job(s) and {tasks} task row(s) in 1 batch(es)" in dry.stdout
        assert _count(db, "SELECT count(*) FROM orchestrator_jobs") == 2

        # The first job ended 31 days ago: the running conductor deletes it.
        set_columns(db, old, finished_at=datetime.now(UTC) - timedelta(days=31))
        wait_for(lambda: _count(db, "SELECT count(*) FROM orchestrator_jobs WHERE id = :j",
                                j=old) == 0,
                 timeout=30, message="the conductor to purge the old job")
        assert _count(db, "SELECT count(*) FROM logbooks WHERE uuid = :b",
                      b=old_book.logbook_id) == 0
        assert _count(db, "SELECT count(*) FROM flowdetails WHERE uuid = :f",
                      f=old_book.flow_detail_id) == 0
        assert _count(db, "SELECT count(*) FROM atomdetails WHERE parent_uuid = :f",
                      f=old_book.flow_detail_id) == 0
        assert "Deleted 1 job(s) that finished before" in deployment.conductor_log("c1")
        left = _count(db, "SELECT count(*) FROM atomdetails")
        assert left == tasks // 2

        # The young job is a day short of the default age; the CLI deletes it.
        purged = deployment.run("db", "purge", "--older-than", "0", "--batch-size", "1")
        assert purged.returncode == 0, purged.stderr
        assert f"deleted 1 job(s) and {left} task row(s) in 1 batch(es)" in purged.stdout
        shown = deployment.run("jobs", "show", young)
        assert shown.returncode == 2 and young in shown.stderr
        assert _count(db, "SELECT count(*) FROM atomdetails") == 0
    finally:
        db.close()


def test_a_bad_age_exits_2_and_says_what_an_age_is(deployment: Deployment) -> None:
    for age in ("30x", "-3d", "d", "1.5.2h", ""):
        result = deployment.run("db", "purge", "--older-than", age, "--dry-run")
        assert result.returncode == 2, age
        assert "is not an age: give a number and one of s, m, h, d" in result.stderr, age
        assert "Traceback" not in result.stderr
