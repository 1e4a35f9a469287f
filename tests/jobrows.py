"""Job rows written straight into the table, for tests of what reads or changes them.

The product writes job rows only through ``jobs.JobLifecycle``, whose ``post``
needs a jobboard; tests of the lifecycle's other transitions, and of the
read side, start from rows inserted here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import sqlalchemy as sa

import persistence


def insert_job(db: persistence.Database, flow_name: str = "phone-calls", *,
               store: dict[str, Any] | None = None, keys: tuple[str, ...] = (),
               **columns: Any) -> persistence.JobRecord:
    """Insert a POSTED job (override any column) carrying concurrency ``keys``;
    return its record."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": str(uuid4()), "flow_name": flow_name, "state": "POSTED",
        "store": store or {}, "created_at": now, "updated_at": now, "started_at": None,
        "finished_at": None, "attempts": 0, "owner": None, "logbook_id": str(uuid4()),
        "flow_detail_id": str(uuid4()), "board_job_id": str(uuid4()),
        "last_error": None, "priority": "NORMAL", "idempotency_key": None,
        "cancel_requested_at": None, "document": None, "claim_epoch": 0,
        "not_before": None, "lost_streak": 0,
        "concurrency_keys": sorted(keys) or None,
    }
    values.update(columns)
    if isinstance(values["state"], persistence.JobState):
        values["state"] = values["state"].value
    with db.session() as session:
        session.execute(sa.insert(persistence.JOBS).values(**values))
        for key in keys:
            session.execute(sa.insert(persistence.JOB_KEYS).values(job_id=values["id"],
                                                                   key=key))
        record = persistence.get_job(session, values["id"])
    assert record is not None
    return record


def set_columns(db: persistence.Database, job_id: str, **columns: Any) -> None:
    """Pin columns the product sets from the clock (ordering, backoff tests)."""
    with db.session() as session:
        session.execute(sa.update(persistence.JOBS)
                        .where(persistence.JOBS.c.id == job_id).values(**columns))
