"""The job lifecycle on a real SQLite file: claims, fencing, lost attempts, quarantine.

Posting needs a jobboard (tests/integration); every other transition starts
here from a row inserted as a given release would have left it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from jobs import Claim, Finished, JobLifecycle, NotYet, Policy, Refused
from persistence import (
    AttemptOutcome as Outcome,
)
from persistence import (
    ClaimLost,
    Database,
    JobRecord,
    JobState,
    get_job,
    job_attempts,
    job_passes,
)
from tests.jobrows import insert_job, set_columns

OWNER = "conductor-a"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def life(db: Database, clock: Clock) -> JobLifecycle:
    return JobLifecycle(db, Policy(max_attempts=3, retry_delay=1.0), clock=clock)


def fetch(db: Database, job_id: str) -> JobRecord:
    with db.session() as session:
        record = get_job(session, job_id)
    assert record is not None
    return record


def claim(life: JobLifecycle, job: JobRecord, owner: str = OWNER, busy: int = 0) -> Any:
    assert job.board_job_id is not None
    return life.claim(job.id, job.board_job_id, owner, busy=busy)


def claimed(life: JobLifecycle, job: JobRecord, owner: str = OWNER) -> Claim:
    outcome = claim(life, job, owner)
    assert isinstance(outcome, Claim), outcome
    return outcome


def test_a_claim_counts_the_attempt_and_increments_the_epoch_in_one_update(
        db: Database, life: JobLifecycle) -> None:
    job = insert_job(db)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.strip().split()[0].upper())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        first = claimed(life, job)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    # UPDATE ... RETURNING: no read a rival could slip past; then, in the same
    # transaction, the attempt's own record.
    assert statements == ["UPDATE", "INSERT"]
    assert (first.record.state, first.record.attempts, first.record.owner) == (
        JobState.RUNNING, 1, OWNER)
    assert first.epoch == first.record.claim_epoch == 1
    assert first.fence.job_id == job.id
    assert first.record.cancel_requested_at is None
    assert fetch(db, job.id) == first.record


def test_a_second_claim_fences_out_the_first(db: Database, life: JobLifecycle) -> None:
    job = insert_job(db)
    first = claimed(life, job)
    # The first owner's lock went (a lost session) and another took the job.
    set_columns(db, job.id, state="POSTED", owner=None)
    second = claimed(life, job, "conductor-b")
    assert second.epoch == first.epoch + 1

    before = fetch(db, job.id)
    for stale_write in (lambda: life.finish(first, JobState.SUCCESS),
                        lambda: life.release(first, JobState.SUSPENDED),
                        lambda: life.retry_later(first, "boom")):
        with pytest.raises(ClaimLost):
            stale_write()
    assert fetch(db, job.id) == before
    finished = life.finish(second, JobState.SUCCESS)
    assert (finished.state, finished.owner) == (JobState.SUCCESS, None)


def test_a_posting_that_is_not_the_jobs_own_is_refused_without_an_attempt(
        db: Database, life: JobLifecycle) -> None:
    job = insert_job(db)
    forged = life.claim(job.id, "8a2f7d0c-0000-4000-8000-000000000000", OWNER)
    assert isinstance(forged, Refused)
    assert "not job" in forged.reason
    unknown = life.claim("1c9e0cfe-0000-4000-8000-000000000000", "x", OWNER)
    assert isinstance(unknown, Refused)
    after = fetch(db, job.id)
    assert (after.attempts, after.claim_epoch, after.state) == (0, 0, JobState.POSTED)


def test_a_finished_job_is_not_claimed(db: Database, life: JobLifecycle) -> None:
    job = insert_job(db, state="SUCCESS")
    outcome = claim(life, job)
    assert isinstance(outcome, Finished)
    assert fetch(db, job.id).attempts == 0


def test_a_job_cancelled_before_it_started_ends_reverted_when_claimed(
        db: Database, life: JobLifecycle) -> None:
    job = insert_job(db)
    requested = life.request_cancel(job.id)
    assert requested is not None and requested.state is JobState.REVERTED
    assert life.request_cancel(job.id) is None  # finished: nothing to cancel
    assert isinstance(claim(life, job), Finished)


def test_cancelling_a_running_job_sets_the_flag_the_next_claim_returns(
        db: Database, life: JobLifecycle) -> None:
    job = insert_job(db)
    first = claimed(life, job)
    requested = life.request_cancel(job.id)
    assert requested is not None and requested.state is JobState.RUNNING
    assert requested.cancel_requested_at is not None
    life.release(first, JobState.SUSPENDED)
    again = claimed(life, job)
    assert again.record.cancel_requested_at == requested.cancel_requested_at


def test_a_lost_attempt_is_taken_over_at_once_then_with_backoff_then_alone(
        db: Database, life: JobLifecycle, clock: Clock) -> None:
    job = insert_job(db)
    claimed(life, job, "conductor-a")            # attempt 1: its conductor dies
    second = claimed(life, job, "conductor-b")   # taken over at once
    assert second.record.attempts == 2 and second.record.lost_streak == 1
    assert not second.isolated
    assert "conductor conductor-a was lost" in (second.record.last_error or "")

    # conductor-b dies too: the third claim backs off for retry_delay first.
    deferred = claim(life, job, "conductor-c")
    assert isinstance(deferred, NotYet) and deferred.until is not None
    assert deferred.until == clock.now + timedelta(seconds=1)
    assert fetch(db, job.id).state is JobState.POSTED  # nobody holds it meanwhile
    clock.advance(1)
    # Two losses in a row: only an idle conductor may run it, alone.
    busy = claim(life, job, "conductor-c", busy=2)
    assert isinstance(busy, NotYet) and busy.needs_idle
    third = claim(life, job, "conductor-c", busy=0)
    assert isinstance(third, Claim) and third.isolated and third.record.attempts == 3


def test_a_job_whose_last_attempt_lost_its_conductor_is_quarantined_at_max_attempts(
        db: Database, life: JobLifecycle) -> None:
    job = insert_job(db, attempts=2, state="RUNNING", owner="conductor-x", claim_epoch=2)
    third = claim(life, job, "conductor-y")
    assert isinstance(third, Claim)
    assert third.record.attempts == 3
    # conductor-y is lost as well: the next claim quarantines it, without a run.
    outcome = claim(life, job, "conductor-z")
    assert isinstance(outcome, Finished)
    record = fetch(db, job.id)
    assert record.state is JobState.FAILED
    assert record.attempts == 3
    assert record.last_error == ("quarantined after 3 attempts; conductor conductor-y "
                                 "was lost before its first step (attempt 3)")


def test_storage_trouble_hands_back_with_growing_backoff_then_fails(
        db: Database, life: JobLifecycle, clock: Clock) -> None:
    job = insert_job(db)
    delays = []
    for _ in range(2):
        record = life.retry_later(claimed(life, job), "database gone")
        assert record.state is JobState.POSTED and record.owner is None
        assert record.not_before is not None
        delays.append((record.not_before - clock.now).total_seconds())
        assert isinstance(claim(life, job), NotYet)
        clock.now = record.not_before
    assert delays == [1.0, 2.0]
    final = life.retry_later(claimed(life, job), "database gone")
    assert final.state is JobState.FAILED
    assert final.last_error == "gave up after 3 attempts: database gone"


def test_a_conductor_that_cannot_run_the_job_undoes_its_attempt(
        db: Database, life: JobLifecycle) -> None:
    job = insert_job(db)
    released = life.release(claimed(life, job), undo_attempt=True)
    assert (released.state, released.attempts, released.claim_epoch) == (
        JobState.POSTED, 0, 1)


def test_passes_are_recorded_for_the_jobs_own_posting_only(
        db: Database, life: JobLifecycle) -> None:
    job = insert_job(db)
    assert job.board_job_id is not None
    life.record_pass(job.id, job.board_job_id, "conductor-a", "flow 'x' is not registered")
    life.record_pass(job.id, job.board_job_id, "conductor-a", "still not registered")
    life.record_pass(job.id, "forged-posting", "conductor-b", "forged")
    with db.session() as session:
        passes = job_passes(session, job.id)
    assert [(p.conductor, p.reason) for p in passes] == [
        ("conductor-a", "still not registered")]
    assert fetch(db, job.id).attempts == 0


def test_reconcile_hands_back_running_records_nobody_holds(
        db: Database, life: JobLifecycle, clock: Clock) -> None:
    old = clock.now - timedelta(minutes=5)
    orphan = insert_job(db, state="RUNNING", owner="gone", attempts=1, claim_epoch=1,
                        updated_at=old)
    held = insert_job(db, state="RUNNING", owner="alive", attempts=1, claim_epoch=1,
                      updated_at=old)
    fresh = insert_job(db, state="RUNNING", owner="new", attempts=1, claim_epoch=1,
                       updated_at=clock.now)
    elsewhere = insert_job(db, state="RUNNING", owner="?", attempts=1, claim_epoch=1,
                           updated_at=old)
    answers = {orphan.id: False, held.id: True, fresh.id: False, elsewhere.id: None}

    handed_back = life.reconcile(lambda record: answers[record.id], grace=10)

    assert handed_back == [orphan.id]
    record = fetch(db, orphan.id)
    assert (record.state, record.owner, record.lost_streak) == (JobState.POSTED, None, 1)
    assert record.last_error == "conductor gone was lost before its first step (attempt 1)"
    for other in (held, fresh, elsewhere):
        assert fetch(db, other.id).state is JobState.RUNNING


def test_a_row_whose_post_was_cut_before_it_noted_its_posting_adopts_it(
        db: Database, life: JobLifecycle) -> None:
    job = insert_job(db, state="POSTING", board_job_id=None)
    posting = "0b8f6a34-0000-4000-8000-000000000009"
    outcome = life.claim(job.id, posting, OWNER)
    assert isinstance(outcome, Claim)
    assert (outcome.record.board_job_id, outcome.record.attempts) == (posting, 1)
    # From then on it is that posting's: another one naming the job is refused.
    other = life.claim(job.id, "0b8f6a34-0000-4000-8000-00000000000a", OWNER)
    assert isinstance(other, Refused)


def attempts_of(db: Database, job_id: str) -> list[tuple[Any, ...]]:
    with db.session() as session:
        return [(a.number, a.conductor, a.outcome and a.outcome.value, a.job_state,
                 a.ended_at is not None) for a in job_attempts(session, job_id)]


def test_each_attempt_is_kept_with_its_conductor_and_how_it_ended(
        db: Database, life: JobLifecycle, clock: Clock) -> None:
    job = insert_job(db)
    claimed(life, job, "conductor-a")                  # dies without a word
    clock.advance(1)
    second = claimed(life, job, "conductor-b")         # notices, takes over
    assert attempts_of(db, job.id)[0] == (1, "conductor-a", "conductor_lost", "POSTED",
                                          True)
    clock.advance(1)
    life.release(second, JobState.SUSPENDED)           # conductor-b stops
    clock.advance(1)
    third = claimed(life, job, "conductor-c")
    assert attempts_of(db, job.id)[-1] == (3, "conductor-c", None, None, False)  # running
    life.request_cancel(job.id, "alice")
    clock.advance(1)
    life.finish(third, JobState.REVERTED, "cancelled by alice", Outcome.CANCELLED)
    assert attempts_of(db, job.id) == [
        (1, "conductor-a", "conductor_lost", "POSTED", True),
        (2, "conductor-b", "suspended", "SUSPENDED", True),
        (3, "conductor-c", "cancelled", "REVERTED", True),
    ]
    with db.session() as session:
        first, *_rest, last = job_attempts(session, job.id)
    assert first.detail == "conductor conductor-a was lost before its first step (attempt 1)"
    assert last.started_at == clock.now - timedelta(seconds=1)
    assert last.ended_at == clock.now


def test_the_first_canceller_is_the_one_recorded(db: Database, life: JobLifecycle) -> None:
    job = insert_job(db)
    first = claimed(life, job)
    life.request_cancel(job.id, "alice")
    life.request_cancel(job.id, "bob")
    record = fetch(db, job.id)
    assert record.cancel_requested_by == "alice"
    finished = life.finish(first, JobState.REVERTED, "cancelled by alice")
    assert finished.cancelled and not fetch(db, job.id).quarantined


def test_a_stale_owner_cannot_end_the_new_owners_attempt(
        db: Database, life: JobLifecycle) -> None:
    job = insert_job(db)
    stale = claimed(life, job, "conductor-a")
    claimed(life, job, "conductor-b")
    with pytest.raises(ClaimLost):
        life.finish(stale, JobState.SUCCESS)
    assert attempts_of(db, job.id) == [(1, "conductor-a", "conductor_lost", "POSTED", True),
                                       (2, "conductor-b", None, None, False)]


def test_an_undone_attempt_leaves_no_record_and_its_number_is_used_again(
        db: Database, life: JobLifecycle) -> None:
    job = insert_job(db)
    life.release(claimed(life, job, "conductor-a"), undo_attempt=True)
    assert attempts_of(db, job.id) == []
    claimed(life, job, "conductor-b")
    assert attempts_of(db, job.id) == [(1, "conductor-b", None, None, False)]


def test_a_quarantined_jobs_last_attempt_ends_as_a_lost_conductor(
        db: Database, life: JobLifecycle) -> None:
    job = insert_job(db)
    for owner in ("a", "b", "c"):  # each is lost in turn
        while not isinstance(claim(life, job, owner), Claim):
            set_columns(db, job.id, not_before=None)  # backing off: skip the wait
    assert isinstance(claim(life, job, "d"), Finished)
    record = fetch(db, job.id)
    assert record.quarantined
    assert [a[2] for a in attempts_of(db, job.id)] == ["conductor_lost"] * 3
