"""What retention reads, and the deletes of TaskFlow's rows it needs.

The job rows themselves are deleted by ``jobs.retention`` (every write to the
job tables belongs to ``jobs``); a job's logbook, flow details and atom
details are TaskFlow's rows and are deleted here, children first, in the
caller's transaction. Foreign keys would cascade, but TaskFlow indexes none
of its ``parent_uuid`` columns: a cascade looks each child table over once per
deleted parent row, where one statement per table looks it over once per batch.

TaskFlow's tables are named here by the few columns used, as lightweight
table clauses: building TaskFlow's own metadata costs more than a batch.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, column, func, literal, select, table
from sqlalchemy.orm import Session

from persistence.records import TERMINAL_STATES
from persistence.repository import JOBS

_LOGBOOKS = table("logbooks", column("uuid"))
_FLOWS = table("flowdetails", column("uuid"), column("parent_uuid"))
_ATOMS = table("atomdetails", column("uuid"), column("parent_uuid"))
_c = JOBS.c
_TERMINAL = sorted(state.value for state in TERMINAL_STATES)


@dataclass(frozen=True)
class Purgeable:
    """A finished job retention may delete: its id and its logbook's."""

    job_id: str
    logbook_id: str


def finished_before_clause(cutoff: datetime) -> list[ColumnElement[bool]]:
    """The conditions a job must meet to be purged: finished, and before ``cutoff``.

    The state is compared as an expression (``state || ''``), which no index
    serves: without statistics (nothing runs ANALYZE on it) SQLite would
    otherwise pick the index on the state, and look over every finished job,
    rather than the one on ``finished_at`` or the primary key.
    """
    return [_c.state.concat("").in_(_TERMINAL),
            _c.finished_at < literal(cutoff, _c.finished_at.type)]


def purgeable_jobs(session: Session, cutoff: datetime, limit: int) -> list[Purgeable]:
    """At most ``limit`` finished jobs that finished before ``cutoff``, oldest first.

    On PostgreSQL the rows are locked until the caller's transaction ends and
    rows another transaction holds are skipped: two purges at once take
    different jobs, and nothing changes a job between this read and its delete.
    """
    stmt = (select(_c.id, _c.logbook_id).where(*finished_before_clause(cutoff))
            .order_by(_c.finished_at).limit(limit)
            .with_for_update(skip_locked=True))
    return [Purgeable(job_id, book) for job_id, book in session.execute(stmt)]


def count_purgeable(session: Session, cutoff: datetime) -> tuple[int, int]:
    """How many jobs finished before ``cutoff``, and how many task rows
    (TaskFlow's atom details) their logbooks hold."""
    where = finished_before_clause(cutoff)
    jobs = session.execute(select(func.count()).select_from(JOBS).where(*where)).scalar()
    tasks = session.execute(
        select(func.count()).select_from(_ATOMS)
        .join(_FLOWS, _FLOWS.c.uuid == _ATOMS.c.parent_uuid)
        .join(JOBS, _c.logbook_id == _FLOWS.c.parent_uuid)
        .where(*where)).scalar()
    return int(jobs or 0), int(tasks or 0)


def delete_logbooks(connection: Connection, book_ids: Collection[str]) -> tuple[int, int]:
    """Delete these logbooks with their flow and atom details, children first;
    return how many flow details and atom details went."""
    if not book_ids:
        return 0, 0
    books = list(book_ids)
    flows = select(_FLOWS.c.uuid).where(_FLOWS.c.parent_uuid.in_(books))
    atoms = connection.execute(_ATOMS.delete().where(_ATOMS.c.parent_uuid.in_(flows)))
    flow_rows = connection.execute(_FLOWS.delete().where(_FLOWS.c.parent_uuid.in_(books)))
    connection.execute(_LOGBOOKS.delete().where(_LOGBOOKS.c.uuid.in_(books)))
    return flow_rows.rowcount, atoms.rowcount
