"""Reopening a FAILED job to resume its revert: one conditional UPDATE, a new
posting, and the unposted sweep as the net when the posting does not follow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import jobs
import persistence
from tests.helpers import wait_for
from tests.jobrows import insert_job

pytestmark = pytest.mark.integration

GRACE = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def reopen(life: jobs.JobLifecycle, board: jobs.Board, job_id: str,
           by: str) -> persistence.JobRecord | None:
    return life.reopen(board, job_id, from_state=persistence.JobState.FAILED,
                       reason=f"revert resumed at the request of {by}")


def failed_job(database: persistence.Database) -> persistence.JobRecord:
    return insert_job(database, "revert-fails-until", state="FAILED", attempts=1,
                      started_at=datetime.now(UTC), finished_at=datetime.now(UTC),
                      last_error="final-check: final check failed")


def test_a_reopened_job_is_posted_anew_and_only_its_new_posting_claims_it(
        database: persistence.Database, zk_hosts: str, jobboard_path: str) -> None:
    life = jobs.JobLifecycle(database)
    job = failed_job(database)
    settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)
    with jobs.open_jobboard(settings, "poster") as board:
        reopened = reopen(life, board, job.id, "alice")
        assert reopened is not None
        assert (reopened.state, reopened.finished_at, reopened.attempts) == (
            persistence.JobState.POSTED, None, 1)
        assert reopened.last_error == "revert resumed at the request of alice"
        assert reopened.board_job_id not in (None, job.board_job_id)
        wait_for(lambda: board.jobs(), timeout=30, message="the posting to be seen")
        [posting] = board.jobs()
        assert posting.uuid == reopened.board_job_id
        assert jobs.JobSpec.from_details(posting.details).job_id == job.id
        # Resumed once: a second request finds the job no longer FAILED.
        assert reopen(life, board, job.id, "bob") is None

    assert job.board_job_id is not None and reopened.board_job_id is not None
    stale = life.claim(job.id, job.board_job_id, "c1")
    assert isinstance(stale, jobs.Refused)
    claim = life.claim(job.id, reopened.board_job_id, "c1")
    assert isinstance(claim, jobs.Claim) and claim.record.attempts == 2


def test_a_reopen_whose_posting_failed_is_posted_by_the_conductors_sweep(
        database: persistence.Database, zk_hosts: str, jobboard_path: str) -> None:
    clock = Clock()
    life = jobs.JobLifecycle(database, clock=clock)
    job = failed_job(database)
    settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)
    with jobs.open_jobboard(settings, "poster", watch=False) as board:
        pass  # closed: ZooKeeper refuses the posting, as if the poster died first
    reopened = reopen(life, board, job.id, "alice")
    assert reopened is not None and reopened.state is persistence.JobState.POSTED
    assert life.unposted_candidates(GRACE) == []
    clock.now += timedelta(seconds=GRACE + 1)
    assert life.unposted_candidates(GRACE) == [(job.id, reopened.board_job_id)]
    assert life.take_repost(job.id, GRACE) is not None
