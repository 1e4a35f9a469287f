"""Job history queries. Each takes a ``Session`` and never commits.

Only reads live here: every write to the job tables belongs to the job
lifecycle (``jobs.lifecycle``), which uses ``JOBS``, ``PASSES`` and
``record_from_row``. Statements go through the Core tables rather than ORM
objects, so no stale object can linger in a session's identity map.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    and_,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from persistence.models import AttemptRow, JobPassRow, JobRow
from persistence.records import (
    PRIORITIES,
    AttemptOutcome,
    AttemptRecord,
    JobPass,
    JobRecord,
    JobState,
)

#: The job table and the table of conductors that passed a job over.
JOBS = cast(Table, JobRow.__table__)
PASSES = cast(Table, JobPassRow.__table__)
#: One row per attempt (claim) of a job.
ATTEMPTS = cast(Table, AttemptRow.__table__)
_jobs = JOBS
_c = _jobs.c


def cancel_requested_by(session: Session, job_id: str) -> str | None:
    """Who asked for the job's cancellation ("" if nobody was named), or None if
    nobody did."""
    stmt = select(_c.cancel_requested_at, _c.cancel_requested_by).where(_c.id == job_id)
    row = session.execute(stmt).first()
    if row is None or row[0] is None:
        return None
    return row[1] or ""


def is_cancel_requested(session: Session, job_id: str) -> bool:
    return cancel_requested_by(session, job_id) is not None


def get_job(session: Session, job_id: str) -> JobRecord | None:
    """The job with that id, or None."""
    return _first(session, select(_jobs).where(_c.id == job_id))


def job_ids_starting(session: Session, prefix: str, limit: int) -> list[str]:
    """Ids of jobs whose id starts with ``prefix``, at most ``limit``, in id order."""
    stmt = (select(_c.id).where(_c.id.startswith(prefix, autoescape=True))
            .order_by(_c.id).limit(limit))
    return list(session.scalars(stmt))


def running_by_owner(session: Session) -> dict[str, int]:
    """How many RUNNING jobs each owner (conductor name) holds."""
    stmt = (select(_c.owner, func.count()).where(_c.state == JobState.RUNNING.value,
                                                  _c.owner.is_not(None))
            .group_by(_c.owner))
    return {owner: int(count) for owner, count in session.execute(stmt)}


def get_job_by_idempotency_key(session: Session, key: str) -> JobRecord | None:
    return _first(session, select(_jobs).where(_c.idempotency_key == key))


def list_jobs(
    session: Session,
    *,
    states: Collection[JobState] | None = None,
    flow_name: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: JobRecord | None = None,
    limit: int = 100,
) -> list[JobRecord]:
    """Jobs matching every filter given, newest first.

    ``since`` is inclusive and ``until`` exclusive. ``after`` continues a
    listing: only jobs that come after that one in this order are returned
    (keyset pagination, stable while new jobs arrive).
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, not {limit}")
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{name} must be a timezone-aware datetime")
    stmt = select(_jobs)
    if states is not None:
        stmt = stmt.where(_c.state.in_([JobState(s).value for s in states]))
    if flow_name is not None:
        stmt = stmt.where(_c.flow_name == flow_name)
    if since is not None:
        stmt = stmt.where(_c.created_at >= since)
    if until is not None:
        stmt = stmt.where(_c.created_at < until)
    if after is not None:
        created = literal(after.created_at, _c.created_at.type)
        stmt = stmt.where(or_(_c.created_at < created,
                              and_(_c.created_at == created, _c.id < after.id)))
    stmt = stmt.order_by(_c.created_at.desc(), _c.id.desc()).limit(limit)
    return [record_from_row(row) for row in session.execute(stmt).mappings()]


def _first(session: Session, stmt: Any) -> JobRecord | None:
    """The first row ``stmt`` returns (a SELECT or an UPDATE ... RETURNING), or None."""
    row = session.execute(stmt).mappings().first()
    return None if row is None else record_from_row(row)


def record_from_row(row: Mapping[Any, Any]) -> JobRecord:
    """A ``JobRecord`` from a row of ``JOBS`` (a mapping of column names)."""
    return JobRecord(
        id=row["id"],
        flow_name=row["flow_name"],
        state=JobState(row["state"]),
        store=dict(row["store"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        attempts=row["attempts"],
        owner=row["owner"],
        logbook_id=row["logbook_id"],
        flow_detail_id=row["flow_detail_id"],
        board_job_id=row["board_job_id"],
        last_error=row["last_error"],
        priority=row["priority"],
        idempotency_key=row["idempotency_key"],
        cancel_requested_at=row["cancel_requested_at"],
        document=None if row["document"] is None else dict(row["document"]),
        claim_epoch=row["claim_epoch"],
        not_before=row["not_before"],
        lost_streak=row["lost_streak"],
        cancel_requested_by=row["cancel_requested_by"],
        retry_of=row["retry_of"],
        concurrency_keys=tuple(row["concurrency_keys"] or ()),
    )


def job_passes(session: Session, job_id: str) -> list[JobPass]:
    """The conductors that left the job to others, and why, oldest first."""
    stmt = (select(PASSES).where(PASSES.c.job_id == job_id)
            .order_by(PASSES.c.passed_at, PASSES.c.conductor))
    return [JobPass(conductor=row["conductor"], reason=row["reason"],
                    passed_at=row["passed_at"])
            for row in session.execute(stmt).mappings()]


def running_jobs(session: Session, updated_before: datetime) -> list[JobRecord]:
    """RUNNING jobs whose record has not changed since ``updated_before``."""
    stmt = select(_jobs).where(_c.state == JobState.RUNNING.value,
                               _c.updated_at < literal(updated_before, _c.updated_at.type))
    return [record_from_row(row) for row in session.execute(stmt).mappings()]


def job_attempts(session: Session, job_id: str) -> list[AttemptRecord]:
    """The job's attempts, first first."""
    stmt = (select(ATTEMPTS).where(ATTEMPTS.c.job_id == job_id)
            .order_by(ATTEMPTS.c.number))
    return [AttemptRecord(job_id=row["job_id"], number=row["number"],
                          conductor=row["conductor"], started_at=row["started_at"],
                          ended_at=row["ended_at"],
                          outcome=None if row["outcome"] is None
                          else AttemptOutcome(row["outcome"]),
                          job_state=row["job_state"], step=row["step"],
                          detail=row["detail"])
            for row in session.execute(stmt).mappings()]


def retries_of(session: Session, job_id: str) -> list[str]:
    """Ids of the jobs posted as retries of ``job_id``, oldest first."""
    stmt = (select(_c.id).where(_c.retry_of == job_id)
            .order_by(_c.created_at, _c.id))
    return list(session.scalars(stmt))


def waiting_ahead(session: Session, record: JobRecord) -> int:
    """How many waiting jobs a conductor would claim before ``record``: those of a
    higher priority, then those of its priority posted earlier."""
    rank = {name: i for i, name in enumerate(PRIORITIES)}
    mine = rank.get(record.priority, len(PRIORITIES))
    higher = [p for p in PRIORITIES if rank[p] < mine]
    created = literal(record.created_at, _c.created_at.type)
    waiting = [JobState.POSTING.value, JobState.POSTED.value, JobState.SUSPENDED.value]
    stmt = select(func.count()).where(
        _c.state.in_(waiting), _c.id != record.id,
        or_(_c.priority.in_(higher),
            and_(_c.priority == record.priority, _c.created_at < created)))
    return int(session.execute(stmt).scalar() or 0)


def count_by_state(session: Session) -> dict[JobState, int]:
    """How many jobs are in each state (states without jobs are left out).

    One ``GROUP BY`` that the index on (state, created_at) answers; the
    metrics read it at every scrape.
    """
    stmt = select(_c.state, func.count()).group_by(_c.state)
    return {JobState(state): int(count) for state, count in session.execute(stmt)}
