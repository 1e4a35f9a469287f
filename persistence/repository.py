"""Job history queries. Each takes a ``Session`` and never commits.

Statements go through the Core table rather than ORM objects: every write is
one atomic UPDATE, and no stale object can linger in a session's identity map.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from persistence.errors import DuplicateIdempotencyKey, JobNotFound
from persistence.models import JobRow
from persistence.records import RELEASE_STATES, TERMINAL_STATES, JobRecord, JobState

_jobs = cast(Table, JobRow.__table__)
_c = _jobs.c
_TERMINAL_VALUES = sorted(s.value for s in TERMINAL_STATES)


def add_job(
    session: Session,
    *,
    job_id: str,
    flow_name: str,
    store: Mapping[str, Any],
    logbook_id: str,
    flow_detail_id: str,
    priority: str = "NORMAL",
    idempotency_key: str | None = None,
    document: Mapping[str, Any] | None = None,
) -> JobRecord:
    """Record a new job in state POSTING (before it reaches the jobboard).

    A second job with the same ``idempotency_key`` violates a unique index:
    ``DuplicateIdempotencyKey``, after which the session must be rolled back.
    """
    now = _now()
    values: dict[str, Any] = {
        "id": job_id,
        "flow_name": flow_name,
        "state": JobState.POSTING.value,
        "store": dict(store),
        "created_at": now,
        "updated_at": now,
        "started_at": None,
        "finished_at": None,
        "attempts": 0,
        "owner": None,
        "logbook_id": logbook_id,
        "flow_detail_id": flow_detail_id,
        "board_job_id": None,
        "last_error": None,
        "priority": priority,
        "idempotency_key": idempotency_key,
        "cancel_requested_at": None,
        "document": None if document is None else dict(document),
    }
    try:
        session.execute(insert(_jobs).values(**values))
    except IntegrityError as exc:
        # The id is a fresh UUID and every column is given: only the key's
        # unique index can object. The transaction is now unusable (on
        # PostgreSQL), so the caller looks the other job up in a new one.
        if idempotency_key is not None:
            raise DuplicateIdempotencyKey(idempotency_key) from exc
        raise
    return _record(values)


def mark_posted(session: Session, job_id: str, board_job_id: str) -> None:
    """Note the jobboard id; POSTING becomes POSTED.

    A conductor may have claimed the job before the poster got here: any
    later state is kept and only the board id is set.
    """
    posting = JobState.POSTING.value
    new_state = case((_c.state == posting, JobState.POSTED.value), else_=_c.state)
    _update_one(
        session,
        job_id,
        {"board_job_id": board_job_id, "state": new_state, "updated_at": _now()},
    )


def delete_job(session: Session, job_id: str) -> None:
    """Delete the job's row (e.g. when posting it to the jobboard failed)."""
    result = _execute(session, delete(_jobs).where(_c.id == job_id))
    if result.rowcount == 0:
        raise JobNotFound(job_id)


def mark_claimed(session: Session, job_id: str, owner: str) -> JobRecord | None:
    """Mark the job RUNNING under ``owner`` and count the attempt.

    ``started_at`` keeps the first claim's time and ``last_error`` is kept.
    Returns None when there is no such row or the job has already finished
    (it may have been cancelled since the caller read it). One UPDATE ...
    RETURNING, so two processes cannot lose an attempt between a read and a write.
    """
    now = _now()
    stmt = (
        update(_jobs)
        .where(_c.id == job_id, _c.state.not_in(_TERMINAL_VALUES))
        .values(
            state=JobState.RUNNING.value,
            attempts=_c.attempts + 1,
            owner=owner,
            # Typed literal: a bare datetime would skip UTCDateTime's conversion.
            started_at=func.coalesce(_c.started_at, literal(now, _c.started_at.type)),
            updated_at=now,
        )
        .returning(*_c)
    )
    return _first(session, stmt)


def mark_released(session: Session, job_id: str, state: JobState, error: str | None = None) -> None:
    """Hand a claimed job back (POSTED or SUSPENDED) and clear its owner.

    ``last_error`` is replaced only when ``error`` is given.
    """
    if state not in RELEASE_STATES:
        allowed = ", ".join(sorted(s.value for s in RELEASE_STATES))
        raise ValueError(f"a released job must be one of {allowed}, not {state.value}")
    values: dict[str, Any] = {"state": state.value, "owner": None, "updated_at": _now()}
    if error is not None:
        values["last_error"] = error
    _update_one(session, job_id, values)


def mark_finished(session: Session, job_id: str, state: JobState, error: str | None = None) -> None:
    """Record the job's terminal state; ``last_error`` becomes ``error``."""
    if state not in TERMINAL_STATES:
        raise ValueError(f"{state.value} is not a terminal state")
    now = _now()
    _update_one(
        session,
        job_id,
        {
            "state": state.value,
            "finished_at": now,
            "updated_at": now,
            "owner": None,
            "last_error": error,
        },
    )


def request_cancel(session: Session, job_id: str) -> JobRecord | None:
    """Note that the job is to be cancelled; the first request's time is kept.

    Returns the updated record, or None when the job does not exist or has
    already finished (the caller tells the two apart).
    """
    now = _now()
    stmt = (
        update(_jobs)
        .where(_c.id == job_id, _c.state.not_in(_TERMINAL_VALUES))
        .values(
            cancel_requested_at=func.coalesce(
                _c.cancel_requested_at, literal(now, _c.cancel_requested_at.type)),
            updated_at=now,
        )
        .returning(*_c)
    )
    return _first(session, stmt)


def finish_unstarted(session: Session, job_id: str, state: JobState,
                     error: str | None) -> JobRecord | None:
    """Finish a job that no conductor ever claimed; None if one has.

    The condition is part of the UPDATE, so a conductor claiming the job at
    the same moment either wins (and this returns None) or finds it finished.
    """
    if state not in TERMINAL_STATES:
        raise ValueError(f"{state.value} is not a terminal state")
    now = _now()
    stmt = (
        update(_jobs)
        .where(_c.id == job_id, _c.attempts == 0,
               _c.state.in_([JobState.POSTING.value, JobState.POSTED.value]))
        .values(state=state.value, finished_at=now, updated_at=now, last_error=error)
        .returning(*_c)
    )
    return _first(session, stmt)


def is_cancel_requested(session: Session, job_id: str) -> bool:
    stmt = select(_c.cancel_requested_at).where(_c.id == job_id)
    return session.execute(stmt).scalar() is not None


def get_job(session: Session, job_id: str) -> JobRecord | None:
    """The job with that id, or None."""
    return _first(session, select(_jobs).where(_c.id == job_id))


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
    return [_record(row) for row in session.execute(stmt).mappings()]


def _first(session: Session, stmt: Any) -> JobRecord | None:
    """The first row ``stmt`` returns (a SELECT or an UPDATE ... RETURNING), or None."""
    row = session.execute(stmt).mappings().first()
    return None if row is None else _record(row)


def _update_one(session: Session, job_id: str, values: dict[str, Any]) -> None:
    result = _execute(session, update(_jobs).where(_c.id == job_id).values(values))
    if result.rowcount == 0:
        raise JobNotFound(job_id)


def _execute(session: Session, stmt: Any) -> CursorResult[Any]:
    # UPDATE/DELETE results are cursor results; the cast gives us rowcount.
    return cast(CursorResult[Any], session.execute(stmt))


def _now() -> datetime:
    return datetime.now(UTC)


def _record(row: Mapping[Any, Any]) -> JobRecord:
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
    )
