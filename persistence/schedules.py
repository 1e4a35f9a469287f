"""Schedules and their fires: records and queries. Each takes a ``Session`` and
never commits (``Database.session`` does).

Two schedulers may handle the same fire time at once (a leader that lost its
ZooKeeper session and does not know it yet, and its successor): ``advance``
moves ``next_fire_at`` on only from the value the caller read, and records
the fire only if it did, so one of them wins and the fire has one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from persistence.engine import upsert_insert
from persistence.models import ScheduleFireRow, ScheduleRow

SCHEDULES = cast(Table, ScheduleRow.__table__)
FIRES = cast(Table, ScheduleFireRow.__table__)
_s = SCHEDULES.c
_f = FIRES.c

#: What became of a fire time (persisted values: never rename one).
POSTED, SKIPPED, ERROR = "posted", "skipped", "error"
FIRE_OUTCOMES: tuple[str, ...] = (POSTED, SKIPPED, ERROR)
#: What becomes of fire times no scheduler handled in time (persisted values).
MISSED_POLICIES: tuple[str, ...] = ("skip", "run_once")


@dataclass(frozen=True)
class ScheduleRecord:
    """One schedule; all datetimes are timezone-aware UTC."""

    id: str
    name: str
    flow_name: str
    store: dict[str, Any]
    priority: str
    cron: str
    timezone: str
    missed: str
    paused: bool
    created_at: datetime
    updated_at: datetime
    next_fire_at: datetime
    created_by: str | None = None


@dataclass(frozen=True)
class FireRecord:
    """A fire time handled: the job posted for it, or why none was."""

    schedule_id: str
    fire_at: datetime
    outcome: str
    job_id: str | None
    detail: str | None
    recorded_at: datetime


def insert_schedule(session: Session, record: ScheduleRecord) -> None:
    """Add a schedule (a name taken already fails with an integrity error)."""
    session.execute(insert(SCHEDULES).values(
        id=record.id, name=record.name, flow_name=record.flow_name, store=record.store,
        priority=record.priority, cron=record.cron, timezone=record.timezone,
        missed=record.missed, paused=record.paused, created_at=record.created_at,
        updated_at=record.updated_at, next_fire_at=record.next_fire_at,
        created_by=record.created_by))


def get_schedule(session: Session, name: str) -> ScheduleRecord | None:
    """The schedule with that name, or None."""
    row = session.execute(select(SCHEDULES).where(_s.name == name)).first()
    return None if row is None else _record(row._mapping)


def list_schedules(session: Session) -> list[ScheduleRecord]:
    """Every schedule, by name."""
    return [_record(row._mapping)
            for row in session.execute(select(SCHEDULES).order_by(_s.name))]


def due_schedules(session: Session, now: datetime, limit: int = 100) -> list[ScheduleRecord]:
    """Schedules not paused whose next fire time has come, earliest first."""
    stmt = (select(SCHEDULES).where(_s.paused.is_(False), _s.next_fire_at <= now)
            .order_by(_s.next_fire_at).limit(limit))
    return [_record(row._mapping) for row in session.execute(stmt)]


def set_paused(session: Session, name: str, paused: bool, now: datetime,
               next_fire_at: datetime | None = None) -> bool:
    """Pause or resume a schedule (resuming sets its next fire time); False if
    there is no such schedule."""
    values: dict[str, Any] = {"paused": paused, "updated_at": now}
    if next_fire_at is not None:
        values["next_fire_at"] = next_fire_at
    result = session.execute(update(SCHEDULES).where(_s.name == name).values(**values))
    return bool(getattr(result, "rowcount", 0))


def delete_schedule(session: Session, name: str) -> bool:
    """Delete a schedule and its fires; False if there is no such schedule."""
    found = session.execute(select(_s.id).where(_s.name == name)).scalar()
    if found is None:
        return False
    # Explicitly, not only by the cascade: SQLite connections opened without
    # the foreign_keys pragma would leave the fires behind.
    session.execute(delete(FIRES).where(_f.schedule_id == found))
    session.execute(delete(SCHEDULES).where(_s.id == found))
    return True


def advance_schedule(session: Session, schedule_id: str, *, old: datetime, new: datetime,
            fire: FireRecord | None) -> bool:
    """Move the schedule's next fire time from ``old`` to ``new`` and record
    ``fire``, if no one else has moved it (nor paused or deleted the schedule).

    Returns whether this call did it.
    """
    result = session.execute(
        update(SCHEDULES)
        .where(_s.id == schedule_id, _s.next_fire_at == old, _s.paused.is_(False))
        .values(next_fire_at=new))
    if not getattr(result, "rowcount", 0):
        return False
    if fire is not None:
        # Never twice for one fire time, whatever happened before (belt and braces:
        # only the winner of the UPDATE above gets here).
        stmt = upsert_insert(session.get_bind().dialect.name)(FIRES).values(
            schedule_id=fire.schedule_id, fire_at=fire.fire_at, outcome=fire.outcome,
            job_id=fire.job_id, detail=fire.detail, recorded_at=fire.recorded_at)
        session.execute(stmt.on_conflict_do_nothing(
            index_elements=[_f.schedule_id, _f.fire_at]))
    return True


def schedule_fires(session: Session, schedule_id: str, limit: int = 20) -> list[FireRecord]:
    """The schedule's last ``limit`` fires, newest first."""
    stmt = (select(FIRES).where(_f.schedule_id == schedule_id)
            .order_by(_f.fire_at.desc()).limit(limit))
    return [FireRecord(schedule_id=row.schedule_id, fire_at=row.fire_at,
                       outcome=row.outcome, job_id=row.job_id, detail=row.detail,
                       recorded_at=row.recorded_at)
            for row in session.execute(stmt)]


def _record(row: Any) -> ScheduleRecord:
    return ScheduleRecord(
        id=row["id"], name=row["name"], flow_name=row["flow_name"],
        store=dict(row["store"] or {}), priority=row["priority"], cron=row["cron"],
        timezone=row["timezone"], missed=row["missed"], paused=bool(row["paused"]),
        created_at=row["created_at"], updated_at=row["updated_at"],
        next_fire_at=row["next_fire_at"], created_by=row["created_by"])
