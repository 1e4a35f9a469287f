"""A job's lifecycle: post, claim, release, finish, cancel. Every write to the job tables.

Nothing else writes ``orchestrator_jobs`` or ``orchestrator_job_passes``; the
rest of the product reads them. Each transition is one conditional statement,
conditional on the state it comes from and, for a claimed job, on the claim:

* a claim's UPDATE increments ``claim_epoch`` (the fencing token) and counts
  the attempt before anything runs;
* release and finish carry the epoch their claim returned, so a conductor
  whose claim was taken over cannot record anything (``ClaimLost``);
* TaskFlow's own writes carry the same epoch (``Claim.fence``, used by the
  fenced TaskFlow backend).

The ZooKeeper lock orders claims: a conductor creates the lock node first and
claims the record second, and releases the record before the lock node. So a
record says RUNNING only while some conductor holds, or has just held, the
lock; a RUNNING record found when the lock is ours again belongs to a
conductor that was lost without reporting back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

import persistence
from jobs import keys
from jobs.errors import BoardUnavailable, PostingFailed
from jobs.spec import JobSpec, flow_meta

if TYPE_CHECKING:
    # Only posting needs TaskFlow's models and a board; reading and the
    # fenced transitions need neither.
    from jobs.board import Board

LOG = logging.getLogger(__name__)

JobState = persistence.JobState
_J = persistence.JOBS
_c = _J.c
_P = persistence.PASSES
_A = persistence.ATTEMPTS
Outcome = persistence.AttemptOutcome
_CLAIMABLE = [JobState.POSTING.value, JobState.POSTED.value, JobState.SUSPENDED.value]
_TERMINAL = sorted(s.value for s in persistence.TERMINAL_STATES)
_INSERT_JOB = sa.insert(_J)

CANCELLED_BEFORE_START = "cancelled before any conductor started it"

#: Consecutive lost attempts after which a job runs alone on a conductor, so
#: that a job which kills its conductor cannot take other jobs down with it.
ISOLATE_AFTER_LOST = 2


@dataclass(frozen=True)
class Claim:
    """A job this conductor holds: its record as the claim left it, and the fence."""

    record: persistence.JobRecord
    fence: persistence.Fence

    @property
    def job_id(self) -> str:
        return self.record.id

    @property
    def epoch(self) -> int:
        return self.fence.epoch

    @property
    def isolated(self) -> bool:
        """Whether the job must run alone (its recent attempts lost their conductor)."""
        return self.record.lost_streak >= ISOLATE_AFTER_LOST


@dataclass(frozen=True)
class Refused:
    """The posting is not a job this product posted (forged, or not the job's own)."""

    reason: str


@dataclass(frozen=True)
class Finished:
    """The job needs no run: finished, cancelled before it started, or quarantined now."""

    record: persistence.JobRecord


@dataclass(frozen=True)
class NotYet:
    """The job may not run now; ``until`` is when to look again (None: when idle)."""

    reason: str
    until: datetime | None = None
    needs_idle: bool = False
    #: It waits for a concurrency key another job holds, or goes after.
    key_busy: bool = False


ClaimOutcome = Claim | Refused | Finished | NotYet


@dataclass(frozen=True)
class Policy:
    """How attempts are counted and spaced."""

    max_attempts: int = 5
    retry_delay: float = 1.0
    max_retry_delay: float = 60.0

    def error_backoff(self, attempts: int) -> float:
        """Delay after attempt ``attempts`` ended in an error."""
        return min(self.retry_delay * 2 ** max(attempts - 1, 0), self.max_retry_delay)

    def lost_backoff(self, lost_streak: int) -> float:
        """Delay after the ``lost_streak``-th consecutive lost attempt.

        The first loss is taken over at once (a conductor killed by an
        operator or a host failure); repeated losses back off.
        """
        if lost_streak < 2:
            return 0.0
        return min(self.retry_delay * 2 ** (lost_streak - 2), self.max_retry_delay)


class JobLifecycle:
    """Every state change of a job, each one conditional and, once claimed, fenced."""

    def __init__(self, database: persistence.Database, policy: Policy | None = None,
                 clock: Callable[[], datetime] | None = None,
                 key_limits: keys.KeyLimits | None = None) -> None:
        self._db = database
        self.policy = policy or Policy()
        self.key_limits = key_limits or keys.KeyLimits()
        self._now = clock or (lambda: datetime.now(UTC))
        self._begin_attempt = _begin_attempt_statement(database.engine.dialect.name)

    # post ------------------------------------------------------------------

    def post(self, board: Board, *, flow_name: str, flow_label: str,
             store: Mapping[str, Any], priority: str = "NORMAL",
             idempotency_key: str | None = None,
             document: Mapping[str, Any] | None = None,
             retry_of: str | None = None,
             concurrency_keys: tuple[str, ...] = (),
             meta: Mapping[str, Any] | None = None) -> persistence.JobRecord:
        """Write the job in one transaction (logbook, flow detail, record), then post it.

        The record says POSTED before the posting exists, so a conductor that
        sees the posting always finds its record. If the board refuses the
        posting, the rows are deleted: a failed post leaves nothing behind.
        A poster that dies in between leaves a record with no posting, which
        conductors post again (``unposted``). A key already recorded raises
        ``persistence.DuplicateIdempotencyKey`` and leaves nothing behind.
        """
        job_id = str(uuid.uuid4())
        posting_id = str(uuid.uuid4())
        from taskflow.persistence import models as tf_models

        book = tf_models.LogBook(f"job-{job_id}")
        flow_detail = tf_models.FlowDetail(flow_label, uuid=str(uuid.uuid4()))
        # ``meta``: what the job records of its flow (its shape), beside its name.
        flow_detail.meta = {**(meta or {}), **flow_meta(flow_name)}
        # The store goes in with the flow detail: loading the job then writes
        # nothing for it, and cannot leave it half written.
        flow_detail.add(persistence.injector_detail(store))
        book.add(flow_detail)
        spec = JobSpec(job_id=job_id, flow_name=flow_name,
                       flow_detail_id=flow_detail.uuid, store=dict(store))
        now = self._now()
        with self._db.session() as session:
            self._db.insert_logbook(session.connection(), book)
            record = self._insert(session, job_id=job_id, flow_name=flow_name, store=store,
                                  book=book.uuid, flow_detail=flow_detail.uuid,
                                  posting_id=posting_id, priority=priority,
                                  idempotency_key=idempotency_key, document=document,
                                  retry_of=retry_of, now=now,
                                  concurrency_keys=concurrency_keys)
        try:
            board.post(uuid=posting_id, name=flow_name, details=spec.to_details(),
                       book_uuid=book.uuid, book_name=book.name, priority=priority)
        except BaseException as exc:
            self._undo_post(job_id, book.uuid)
            if isinstance(exc, BoardUnavailable):
                raise PostingFailed(f"could not post the job to ZooKeeper: {exc}") from exc
            raise
        LOG.info("Posted job %s (%s)", job_id, flow_name)
        return record

    def _insert(self, session: Any, *, job_id: str, flow_name: str,
                store: Mapping[str, Any], book: str, flow_detail: str, posting_id: str,
                priority: str, idempotency_key: str | None,
                document: Mapping[str, Any] | None, retry_of: str | None,
                now: datetime, concurrency_keys: tuple[str, ...]) -> persistence.JobRecord:
        values = {
            "id": job_id, "flow_name": flow_name, "state": JobState.POSTED.value,
            "store": dict(store), "created_at": now, "updated_at": now,
            "started_at": None, "finished_at": None, "attempts": 0, "owner": None,
            "logbook_id": book, "flow_detail_id": flow_detail,
            "board_job_id": posting_id, "last_error": None, "priority": priority,
            "idempotency_key": idempotency_key, "cancel_requested_at": None,
            "document": None if document is None else dict(document),
            "claim_epoch": 0, "not_before": None, "lost_streak": 0,
            "cancel_requested_by": None, "retry_of": retry_of,
            "concurrency_keys": list(concurrency_keys) or None,
        }
        try:
            # Without inline values the statement compiles once, from the cache.
            session.connection().execute(_INSERT_JOB, [values])
            keys.record(session.connection(), job_id, concurrency_keys)
        except IntegrityError as exc:
            # The id is a fresh UUID: only the key's unique index can object.
            if idempotency_key is not None:
                raise persistence.DuplicateIdempotencyKey(idempotency_key) from exc
            raise
        return persistence.record_from_row(values)

    def _undo_post(self, job_id: str, book_id: str) -> None:
        # TaskFlow's foreign keys cascade from the logbook to its details.
        try:
            with self._db.session() as session:
                session.execute(sa.delete(_J).where(_c.id == job_id))
                self._db.delete_logbook(session.connection(), book_id)
        except persistence.PersistenceError:
            LOG.exception("Could not remove job %s after its posting failed", job_id)

    # claim -----------------------------------------------------------------

    def claim(self, job_id: str, posting_id: str, owner: str, *,
              busy: int = 0) -> ClaimOutcome:
        """Claim the record of a job whose lock node ``owner`` holds.

        One UPDATE ... RETURNING in the usual case; it counts the attempt,
        increments the epoch and returns the cancel flag with the record.
        ``busy`` is how many jobs ``owner`` runs now (a job that keeps losing
        its conductor is only claimed by an idle one).
        """
        now = self._now()
        stmt = _CLAIM_BUSY if busy else _CLAIM_IDLE
        params = {"job": job_id, "posting": posting_id, "now": now, "owner": owner,
                  "max_attempts": self.policy.max_attempts}
        try:
            with self._db.session() as session:
                row = session.execute(stmt, params).mappings().first()
                if row is not None:
                    record = persistence.record_from_row(row)
                    if record.concurrency_keys:
                        # Raises KeysBusy, which rolls the claim back.
                        keys.take(session.connection(), record, self.key_limits, now)
                    session.execute(self._begin_attempt, {
                        "job_id": record.id, "number": record.attempts,
                        "conductor": owner, "started_at": now})
                    return Claim(record, persistence.Fence(record.id, record.claim_epoch))
                current = persistence.get_job(session, job_id)
        except keys.KeysBusy as waits:
            return NotYet(waits.reason, key_busy=True)
        return self._not_claimed(current, posting_id, owner, busy, now)

    def _not_claimed(self, record: persistence.JobRecord | None, posting_id: str,
                     owner: str, busy: int, now: datetime) -> ClaimOutcome:
        if record is None:
            return Refused("it has no job record: it was not posted through the "
                           "orchestrator")
        if record.board_job_id is None:
            # A row of an earlier release whose post was cut short before it
            # noted the posting: the posting it names is its only one.
            return self._adopt_posting(record, posting_id, owner, busy)
        if record.board_job_id != posting_id:
            return Refused(f"the posting is not job {record.id}'s own: the job was "
                           f"posted as {record.board_job_id}")
        if record.is_terminal:
            return Finished(record)
        if record.state is JobState.RUNNING:
            # We hold the lock now, so the conductor named in the record lost it
            # without reporting back: a crash, a kill, a lost session.
            return self._after_lost_attempt(record, posting_id, owner, busy)
        if record.lost_streak > 0 and record.attempts >= self.policy.max_attempts:
            return self._quarantine(record, record.last_error)
        if record.cancel_requested_at is not None and record.attempts == 0:
            finished = self._finish_unclaimed(record.id, JobState.REVERTED,
                                              CANCELLED_BEFORE_START)
            return Finished(finished) if finished is not None else NotYet("changed")
        if record.not_before is not None and record.not_before > now:
            return NotYet(f"backing off until {record.not_before.isoformat()}",
                          until=record.not_before)
        if record.lost_streak >= ISOLATE_AFTER_LOST and busy:
            return NotYet("it lost its conductor on its last attempts: it runs "
                          "alone on an idle conductor", needs_idle=True)
        return NotYet("its record changed while it was claimed")

    def _adopt_posting(self, record: persistence.JobRecord, posting_id: str, owner: str,
                       busy: int) -> ClaimOutcome:
        stmt = (sa.update(_J).where(_c.id == record.id, _c.board_job_id.is_(None))
                .values(board_job_id=posting_id))
        with self._db.session() as session:
            session.execute(stmt)
        return self.claim(record.id, posting_id, owner, busy=busy)

    def _after_lost_attempt(self, record: persistence.JobRecord, posting_id: str,
                            owner: str, busy: int) -> ClaimOutcome:
        step = self.running_step(record)
        reason = self.lost_reason(record, step)
        if record.attempts >= self.policy.max_attempts:
            return self._quarantine(record, reason, step)
        lost = self.mark_lost(record, reason, step)
        if lost is None:
            return NotYet("its record changed while it was claimed")
        if lost.not_before is not None:
            return NotYet(f"{reason}; backing off until {lost.not_before.isoformat()}",
                          until=lost.not_before)
        return self.claim(record.id, posting_id, owner, busy=busy)

    def lost_reason(self, record: persistence.JobRecord, step: str | None) -> str:
        where = f"during step {step}" if step else "before its first step"
        return f"conductor {record.owner or '?'} was lost {where} (attempt {record.attempts})"

    def running_step(self, record: persistence.JobRecord) -> str | None:
        """The step the job's last run left started and unfinished, if any."""
        try:
            tasks = persistence.job_tasks(self._db, record.flow_detail_id)
        except persistence.PersistenceError:
            return None
        running = [t.name for t in tasks if t.state in ("RUNNING", "REVERTING")]
        return running[-1] if running else None

    def mark_lost(self, record: persistence.JobRecord, reason: str,
                  step: str | None = None) -> persistence.JobRecord | None:
        """Hand back a RUNNING job whose conductor was lost; None if it changed since."""
        streak = record.lost_streak + 1
        delay = self.policy.lost_backoff(streak)
        now = self._now()
        stmt = (
            sa.update(_J)
            .where(_c.id == record.id, _c.claim_epoch == record.claim_epoch,
                   _c.state == JobState.RUNNING.value)
            .values(state=JobState.POSTED.value, owner=None, lost_streak=streak,
                    last_error=reason, updated_at=now,
                    not_before=now + timedelta(seconds=delay) if delay else None)
            .returning(*_c)
        )
        with self._db.session() as session:
            row = session.execute(stmt).mappings().first()
            if row is not None:
                _end_attempt(session.connection(), record.id, record.attempts,
                             Outcome.CONDUCTOR_LOST, row["state"], now, step=step,
                             detail=reason)
                _free_keys(session.connection(), record)
        if row is None:
            return None
        LOG.warning("Job %s: %s", record.id, reason)
        return persistence.record_from_row(row)

    def _quarantine(self, record: persistence.JobRecord, reason: str | None,
                    step: str | None = None) -> ClaimOutcome:
        cause = f"; {reason}" if reason else ""
        error = f"{persistence.QUARANTINED} {record.attempts} attempts{cause}"
        now = self._now()
        stmt = (
            sa.update(_J)
            .where(_c.id == record.id, _c.claim_epoch == record.claim_epoch,
                   _c.state.not_in(_TERMINAL))
            .values(state=JobState.FAILED.value, owner=None, finished_at=now,
                    updated_at=now, last_error=error, not_before=None)
            .returning(*_c)
        )
        with self._db.session() as session:
            row = session.execute(stmt).mappings().first()
            if row is not None:
                _end_attempt(session.connection(), record.id, record.attempts,
                             Outcome.CONDUCTOR_LOST, row["state"], now, step=step,
                             detail=reason)
                _free_keys(session.connection(), record)
        if row is None:
            return NotYet("its record changed while it was claimed")
        LOG.error("Job %s %s", record.id, error)
        return Finished(persistence.record_from_row(row))

    # release and finish (fenced) -------------------------------------------

    def release(self, claim: Claim, state: persistence.JobState = JobState.POSTED, *,
                error: str | None = None, backoff: float = 0.0,
                undo_attempt: bool = False,
                outcome: persistence.AttemptOutcome | None = None) -> persistence.JobRecord:
        """Hand the job back (POSTED or SUSPENDED); raises ``ClaimLost`` if taken over.

        ``undo_attempt`` un-counts the attempt of a conductor that found it
        cannot run the job after all (it lacks something the flow needs): its
        attempt record goes too. ``outcome`` says how the attempt ended; by
        default SUSPENDED for a suspended job, STORAGE_ERROR otherwise.
        """
        if state not in persistence.RELEASE_STATES:
            raise ValueError(f"a released job must be POSTED or SUSPENDED, not {state}")
        now = self._now()
        values: dict[str, Any] = {
            "state": state.value, "owner": None, "updated_at": now, "lost_streak": 0,
            "not_before": now + timedelta(seconds=backoff) if backoff > 0 else None,
        }
        if error is not None:
            values["last_error"] = error
        if undo_attempt:
            values["attempts"] = _c.attempts - 1
            return self._fenced(claim, values, None)
        if outcome is None:
            outcome = (Outcome.SUSPENDED if state is JobState.SUSPENDED
                       else Outcome.STORAGE_ERROR)
        return self._fenced(claim, values, outcome, detail=error)

    def finish(self, claim: Claim, state: persistence.JobState,
               error: str | None = None,
               outcome: persistence.AttemptOutcome = Outcome.FINISHED
               ) -> persistence.JobRecord:
        """Record the job's terminal state; raises ``ClaimLost`` if taken over."""
        return self._fenced(claim, self._finished_values(state, error), outcome,
                            detail=error)

    def finish_within(self, connection: sa.Connection, claim: Claim,
                      state: persistence.JobState,
                      error: str | None = None,
                      outcome: persistence.AttemptOutcome = Outcome.FINISHED
                      ) -> persistence.JobRecord:
        """``finish`` as part of a transaction the caller holds (the flow's last).

        Raises ``ClaimLost`` if taken over: the caller's transaction then
        rolls back with it.
        """
        stmt, params = self._fenced_update(claim, self._finished_values(state, error))
        row = connection.execute(stmt, params).mappings().first()
        if row is None:
            raise persistence.ClaimLost(claim.job_id, claim.epoch)
        _end_attempt(connection, claim.job_id, claim.record.attempts, outcome,
                     row["state"], row["updated_at"], detail=error)
        _free_keys(connection, claim.record)
        return persistence.record_from_row(row)

    def _finished_values(self, state: persistence.JobState,
                         error: str | None) -> dict[str, Any]:
        if state not in persistence.TERMINAL_STATES:
            raise ValueError(f"{state} is not a terminal state")
        now = self._now()
        return {"state": state.value, "finished_at": now, "updated_at": now,
                "owner": None, "last_error": error, "not_before": None, "lost_streak": 0}

    def retry_later(self, claim: Claim, error: str,
                    outcome: persistence.AttemptOutcome = Outcome.STORAGE_ERROR
                    ) -> persistence.JobRecord:
        """Hand back a job whose attempt failed for a reason another attempt may
        not meet (storage trouble...), or fail it after ``max_attempts``."""
        attempts = claim.record.attempts
        if attempts >= self.policy.max_attempts:
            return self.finish(claim, JobState.FAILED,
                               f"gave up after {attempts} attempts: {error}", outcome)
        return self.release(claim, error=error,
                            backoff=self.policy.error_backoff(attempts), outcome=outcome)

    def _fenced(self, claim: Claim, values: dict[str, Any],
                outcome: persistence.AttemptOutcome | None,
                detail: str | None = None) -> persistence.JobRecord:
        """One UPDATE conditional on the claim, and the end of the claim's attempt
        (``outcome``; None deletes it) in the same transaction; waits out a
        database outage for as long as the claim's fence allows (the conductor
        is not stopping)."""
        stmt, params = self._fenced_update(claim, values)
        delay, waited = 0.05, 0.0
        while True:
            try:
                with self._db.session() as session:
                    row = session.execute(stmt, params).mappings().first()
                    if row is not None:
                        _end_attempt(session.connection(), claim.job_id,
                                     claim.record.attempts, outcome, row["state"],
                                     row["updated_at"], detail=detail)
                        _free_keys(session.connection(), claim.record)
                break
            except persistence.PersistenceError as exc:
                if not exc.retryable or not claim.fence.keep_waiting(delay):
                    raise
                if not waited:
                    LOG.warning("Job %s: cannot record its state (%s); waiting for the "
                                "database", claim.job_id, exc)
                waited += delay
                delay = min(delay * 2, 2.0)
        if waited:
            LOG.info("Job %s: recorded its state after %.1fs of waiting", claim.job_id,
                     waited)
        if row is None:
            raise persistence.ClaimLost(claim.job_id, claim.epoch)
        return persistence.record_from_row(row)

    @staticmethod
    def _fenced_update(claim: Claim, values: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The fenced UPDATE for ``values``, and its parameters."""
        params = {f"v_{k}": v for k, v in values.items()
                  if not isinstance(v, sa.ColumnElement)}
        params.update(f_job=claim.job_id, f_epoch=claim.epoch)
        return _fenced_statement(tuple(values), values), params

    # cancel ----------------------------------------------------------------

    def request_cancel(self, job_id: str,
                       requested_by: str | None = None) -> persistence.JobRecord | None:
        """Note that the job is to be cancelled, and by whom; a job nobody claimed
        yet ends REVERTED at once. None when the job does not exist or already
        finished. The first request is the one kept."""
        now = self._now()
        first = _c.cancel_requested_at.is_(None)
        stmt = (
            sa.update(_J)
            .where(_c.id == job_id, _c.state.not_in(_TERMINAL))
            .values(cancel_requested_at=sa.func.coalesce(_c.cancel_requested_at,
                                                         _ts(now)),
                    cancel_requested_by=sa.case(
                        (first, sa.literal(requested_by, _c.cancel_requested_by.type)),
                        else_=_c.cancel_requested_by),
                    updated_at=now)
            .returning(*_c)
        )
        with self._db.session() as session:
            row = session.execute(stmt).mappings().first()
        if row is None:
            return None
        unstarted = self._finish_unclaimed(job_id, JobState.REVERTED,
                                           CANCELLED_BEFORE_START)
        return unstarted or persistence.record_from_row(row)

    def _finish_unclaimed(self, job_id: str, state: persistence.JobState,
                          error: str | None) -> persistence.JobRecord | None:
        # Conditional on no claim ever having counted an attempt: a conductor
        # claiming at the same moment either wins or finds the job finished.
        now = self._now()
        stmt = (
            sa.update(_J)
            .where(_c.id == job_id, _c.attempts == 0,
                   _c.state.in_([JobState.POSTING.value, JobState.POSTED.value]))
            .values(state=state.value, finished_at=now, updated_at=now, last_error=error)
            .returning(*_c)
        )
        with self._db.session() as session:
            row = session.execute(stmt).mappings().first()
        return None if row is None else persistence.record_from_row(row)

    # resuming a failed revert ------------------------------------------------

    def reopen(self, board: Board, job_id: str, *, from_state: JobState,
               reason: str) -> persistence.JobRecord | None:
        """Hand a finished job back to the conductors, to revert as its flow detail
        asks (a failed revert resumed, or an undo).

        One UPDATE conditional on the job being ``from_state``: it is POSTED
        again, unfinished, under a new posting id (a stale posting of its last
        run is then refused), with ``reason`` as its last error; its attempts go
        on counting. None when the job is not ``from_state``: of two requests,
        one reopens it. The caller has noted the request in the flow detail.
        The posting follows; should ZooKeeper refuse it or the caller die first,
        the conductors post it again (``unposted_candidates``), as for any
        unposted job.
        """
        now = self._now()
        posting_id = str(uuid.uuid4())
        stmt = (
            sa.update(_J)
            .where(_c.id == job_id, _c.state == from_state.value)
            .values(state=JobState.POSTED.value, finished_at=None, updated_at=now,
                    owner=None, board_job_id=posting_id, not_before=None, lost_streak=0,
                    last_error=reason)
            .returning(*_c)
        )
        with self._db.session() as session:
            row = session.execute(stmt).mappings().first()
        if row is None:
            return None
        record = persistence.record_from_row(row)
        spec = JobSpec(job_id=record.id, flow_name=record.flow_name,
                       flow_detail_id=record.flow_detail_id, store=dict(record.store))
        try:
            board.post(uuid=posting_id, name=record.flow_name, details=spec.to_details(),
                       book_uuid=record.logbook_id, book_name=f"job-{record.id}",
                       priority=record.priority)
        except BoardUnavailable as exc:
            LOG.warning("Job %s was reopened (%s) but could not be posted (%s); the "
                        "conductors will post it", job_id, reason, exc)
        LOG.info("Job %s reopened: %s", job_id, reason)
        return record

    # conductors that cannot run a job ----------------------------------------

    def record_pass(self, job_id: str, posting_id: str, conductor: str,
                    reason: str) -> None:
        """Note that ``conductor`` left the job to others, and why.

        Only for the job's own posting: a forged posting naming a real job
        writes nothing.
        """
        now = self._now()
        dialect = self._db.engine.dialect.name
        insert = persistence.upsert_insert(dialect)
        source = sa.select(sa.literal(job_id), sa.literal(conductor), sa.literal(reason),
                           _ts(now)).where(
            sa.exists().where(_c.id == job_id, _c.board_job_id == posting_id))
        stmt = insert(_P).from_select(["job_id", "conductor", "reason", "passed_at"],
                                      source)
        stmt = stmt.on_conflict_do_update(
            index_elements=[_P.c.job_id, _P.c.conductor],
            set_={"reason": stmt.excluded.reason, "passed_at": stmt.excluded.passed_at})
        with self._db.session() as session:
            session.execute(stmt)

    # records whose posting is missing -------------------------------------------

    def unposted_candidates(self, grace: float) -> list[tuple[str, str]]:
        """(job id, posting id) of jobs waiting to be claimed, unchanged for ``grace`` s.

        The caller keeps those whose posting is not on the board and passes
        them to ``take_repost``.
        """
        waiting = [JobState.POSTING.value, JobState.POSTED.value, JobState.SUSPENDED.value]
        stmt = (sa.select(_c.id, _c.board_job_id)
                .where(_c.state.in_(waiting), _c.board_job_id.is_not(None),
                       _c.updated_at < _ts(self._now() - timedelta(seconds=grace))))
        with self._db.session() as session:
            return [(job_id, posting) for job_id, posting in session.execute(stmt)]

    def take_repost(self, job_id: str, grace: float) -> persistence.JobRecord | None:
        """Take on posting a waiting job again (its poster died before posting it).

        One conditional UPDATE: of several conductors noticing the same
        missing posting, one gets the record, and the others None.
        """
        now = self._now()
        waiting = [JobState.POSTING.value, JobState.POSTED.value, JobState.SUSPENDED.value]
        stmt = (sa.update(_J)
                .where(_c.id == job_id, _c.state.in_(waiting),
                       _c.updated_at < _ts(now - timedelta(seconds=grace)))
                .values(updated_at=now)
                .returning(*_c))
        with self._db.session() as session:
            row = session.execute(stmt).mappings().first()
        return None if row is None else persistence.record_from_row(row)

    # reconciling records with the board --------------------------------------

    def reconcile(self, held: Callable[[persistence.JobRecord], bool | None],
                  grace: float) -> list[str]:
        """Hand back RUNNING jobs whose lock nobody holds; return their ids.

        ``held`` answers from the board: True (a lock exists), False (the
        job is on the board, unclaimed), None (not on the board: not ours to
        judge). Records changed in the last ``grace`` seconds are left alone,
        so a claim in progress is never mistaken for a lost one.
        """
        with self._db.session() as session:
            running = persistence.running_jobs(
                session, self._now() - timedelta(seconds=grace))
        handed_back = []
        for record in running:
            if held(record) is False:
                step = self.running_step(record)
                if self.mark_lost(record, self.lost_reason(record, step),
                                  step) is not None:
                    handed_back.append(record.id)
        return handed_back


def _claim_statement(busy: bool) -> Any:
    """The claim's UPDATE ... RETURNING, built once (values are bind parameters)."""
    now = sa.bindparam("now", type_=_c.updated_at.type)
    alone = _c.lost_streak < ISOLATE_AFTER_LOST if busy else sa.true()
    return (
        sa.update(_J)
        .where(_c.id == sa.bindparam("job"), _c.board_job_id == sa.bindparam("posting"),
               _c.state.in_(_CLAIMABLE),
               sa.or_(_c.not_before.is_(None), _c.not_before <= now),
               alone,
               sa.or_(_c.lost_streak == 0, _c.attempts < sa.bindparam("max_attempts")),
               sa.or_(_c.cancel_requested_at.is_(None), _c.attempts > 0))
        .values(state=JobState.RUNNING.value, attempts=_c.attempts + 1,
                claim_epoch=_c.claim_epoch + 1, owner=sa.bindparam("owner"),
                started_at=sa.func.coalesce(_c.started_at, now),
                updated_at=now, not_before=None)
        .returning(*_c)
    )


_CLAIM_IDLE = _claim_statement(busy=False)
_CLAIM_BUSY = _claim_statement(busy=True)
_FENCED: dict[tuple[tuple[str, str | None], ...], Any] = {}


def _fenced_statement(columns: tuple[str, ...], values: dict[str, Any]) -> Any:
    """``UPDATE ... WHERE id AND claim_epoch AND RUNNING ... RETURNING``, built once
    per set of columns; expressions (``attempts - 1``) are part of the shape."""
    key = tuple((name, str(values[name]) if isinstance(values[name], sa.ColumnElement)
                 else None) for name in columns)
    stmt = _FENCED.get(key)
    if stmt is None:
        stmt = (
            sa.update(_J)
            .where(_c.id == sa.bindparam("f_job"),
                   _c.claim_epoch == sa.bindparam("f_epoch"),
                   _c.state == JobState.RUNNING.value)
            .values({name: values[name] if isinstance(values[name], sa.ColumnElement)
                     else sa.bindparam(f"v_{name}", type_=_c[name].type)
                     for name in columns})
            .returning(*_c)
        )
        _FENCED[key] = stmt
    return stmt


def _free_keys(connection: Any, record: persistence.JobRecord) -> None:
    """Free the job's concurrency keys as its claim ends (nothing to do without)."""
    if record.concurrency_keys:
        keys.free(connection, record.id)


def _begin_attempt_statement(dialect: str) -> Any:
    """The attempt's INSERT. An attempt number met again (a row left by an
    interrupted undo) starts afresh rather than failing the claim."""
    insert = persistence.upsert_insert(dialect)
    stmt = insert(_A).values(job_id=sa.bindparam("job_id"), number=sa.bindparam("number"),
                             conductor=sa.bindparam("conductor"),
                             started_at=sa.bindparam("started_at",
                                                     type_=_A.c.started_at.type))
    return stmt.on_conflict_do_update(
        index_elements=[_A.c.job_id, _A.c.number],
        set_={"conductor": stmt.excluded.conductor, "started_at": stmt.excluded.started_at,
              "ended_at": None, "outcome": None, "job_state": None, "step": None,
              "detail": None})


_END_ATTEMPT = (
    sa.update(_A)
    .where(_A.c.job_id == sa.bindparam("a_job"), _A.c.number == sa.bindparam("a_number"),
           _A.c.ended_at.is_(None))
    .values(ended_at=sa.bindparam("a_ended", type_=_A.c.ended_at.type),
            outcome=sa.bindparam("a_outcome"), job_state=sa.bindparam("a_state"),
            step=sa.func.coalesce(sa.bindparam("a_step", type_=_A.c.step.type), _A.c.step),
            detail=sa.bindparam("a_detail", type_=_A.c.detail.type))
)
_DELETE_ATTEMPT = sa.delete(_A).where(_A.c.job_id == sa.bindparam("a_job"),
                                      _A.c.number == sa.bindparam("a_number"))


def _end_attempt(connection: Any, job_id: str, number: int,
                 outcome: persistence.AttemptOutcome | None, job_state: str,
                 ended_at: datetime, *, step: str | None = None,
                 detail: str | None = None) -> None:
    """Close the attempt with how it ended; ``outcome`` None deletes it (the
    attempt was un-counted)."""
    params: dict[str, Any] = {"a_job": job_id, "a_number": number}
    if outcome is None:
        connection.execute(_DELETE_ATTEMPT, params)
        return
    params.update(a_ended=ended_at, a_outcome=outcome.value, a_state=job_state,
                  a_step=step, a_detail=None if detail is None else detail[:4000])
    connection.execute(_END_ATTEMPT, params)


def _ts(value: datetime) -> Any:
    # Typed literal: a bare datetime in an expression would skip UTCDateTime's
    # conversion (naive UTC on SQLite).
    return sa.literal(value, _c.updated_at.type)
