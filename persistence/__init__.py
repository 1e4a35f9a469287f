"""Persistence: engine and sessions, job history, TaskFlow's backend, schema.

This package imports neither ``orchestrator`` nor ``jobs``; it reads no
configuration and takes plain values.

Names are imported on first use (PEP 562): a command that only lists jobs
does not pay for TaskFlow or kazoo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from persistence.lazy import lazy_exports

if TYPE_CHECKING:
    from persistence.database import (
        Database,
    )
    from persistence.engine import (
        create_engine,
        upsert_insert,
    )
    from persistence.errors import (
        ClaimLost,
        DuplicateIdempotencyKey,
        JobNotFound,
        PersistenceError,
        SchemaError,
        StorageUnavailable,
    )
    from persistence.fencing import (
        Fence,
    )
    from persistence.history import (
        TaskFailure,
        TaskHistory,
        job_tasks,
        read_flow_detail,
    )
    from persistence.keys import (
        JOB_KEYS,
        KEY_HOLDS,
        KeyHold,
        key_holds,
    )
    from persistence.records import (
        PRIORITIES,
        QUARANTINED,
        RELEASE_STATES,
        TERMINAL_STATES,
        AttemptOutcome,
        AttemptRecord,
        JobPass,
        JobRecord,
        JobState,
    )
    from persistence.repository import (
        ATTEMPTS,
        JOBS,
        PASSES,
        cancel_requested_by,
        count_by_state,
        get_job,
        get_job_by_idempotency_key,
        is_cancel_requested,
        job_attempts,
        job_ids_starting,
        job_passes,
        list_jobs,
        record_from_row,
        retries_of,
        running_by_owner,
        running_jobs,
        waiting_ahead,
    )
    from persistence.retention import (
        Purgeable,
        count_purgeable,
        delete_logbooks,
        finished_before_clause,
        purgeable_jobs,
    )
    from persistence.schedules import (
        FIRE_OUTCOMES,
        MISSED_POLICIES,
        FireRecord,
        ScheduleRecord,
        advance_schedule,
        delete_schedule,
        due_schedules,
        get_schedule,
        insert_schedule,
        list_schedules,
        schedule_fires,
        set_paused,
    )
    from persistence.taskflow_backend import (
        FencedBackend,
        FencedConnection,
    )
    from persistence.taskflow_storage import (
        LeanStorage,
        injector_detail,
    )

#: Each public name and the module that defines it.
_EXPORTS: dict[str, str] = {
    "ATTEMPTS": "persistence.repository",
    "AttemptOutcome": "persistence.records",
    "AttemptRecord": "persistence.records",
    "ClaimLost": "persistence.errors",
    "Database": "persistence.database",
    "DuplicateIdempotencyKey": "persistence.errors",
    "Fence": "persistence.fencing",
    "FencedBackend": "persistence.taskflow_backend",
    "FencedConnection": "persistence.taskflow_backend",
    "JOBS": "persistence.repository",
    "JobNotFound": "persistence.errors",
    "JobPass": "persistence.records",
    "JobRecord": "persistence.records",
    "JobState": "persistence.states",
    "LeanStorage": "persistence.taskflow_storage",
    "PASSES": "persistence.repository",
    "PRIORITIES": "persistence.records",
    "PersistenceError": "persistence.errors",
    "Purgeable": "persistence.retention",
    "QUARANTINED": "persistence.records",
    "RELEASE_STATES": "persistence.states",
    "SchemaError": "persistence.errors",
    "StorageUnavailable": "persistence.errors",
    "TERMINAL_STATES": "persistence.states",
    "TaskFailure": "persistence.history",
    "FIRE_OUTCOMES": "persistence.schedules",
    "MISSED_POLICIES": "persistence.schedules",
    "FireRecord": "persistence.schedules",
    "ScheduleRecord": "persistence.schedules",
    "advance_schedule": "persistence.schedules",
    "delete_schedule": "persistence.schedules",
    "due_schedules": "persistence.schedules",
    "get_schedule": "persistence.schedules",
    "insert_schedule": "persistence.schedules",
    "list_schedules": "persistence.schedules",
    "schedule_fires": "persistence.schedules",
    "set_paused": "persistence.schedules",
    "TaskHistory": "persistence.history",
    "cancel_requested_by": "persistence.repository",
    "count_by_state": "persistence.repository",
    "count_purgeable": "persistence.retention",
    "create_engine": "persistence.engine",
    "upsert_insert": "persistence.engine",
    "KeyHold": "persistence.keys",
    "JOB_KEYS": "persistence.keys",
    "KEY_HOLDS": "persistence.keys",
    "key_holds": "persistence.keys",
    "delete_logbooks": "persistence.retention",
    "finished_before_clause": "persistence.retention",
    "get_job": "persistence.repository",
    "get_job_by_idempotency_key": "persistence.repository",
    "injector_detail": "persistence.taskflow_storage",
    "is_cancel_requested": "persistence.repository",
    "job_attempts": "persistence.repository",
    "job_ids_starting": "persistence.repository",
    "job_passes": "persistence.repository",
    "job_tasks": "persistence.history",
    "list_jobs": "persistence.repository",
    "purgeable_jobs": "persistence.retention",
    "read_flow_detail": "persistence.history",
    "record_from_row": "persistence.repository",
    "retries_of": "persistence.repository",
    "running_by_owner": "persistence.repository",
    "running_jobs": "persistence.repository",
    "waiting_ahead": "persistence.repository",
}

__all__ = [
    "ATTEMPTS",
    "QUARANTINED",
    "AttemptOutcome",
    "AttemptRecord",
    "cancel_requested_by",
    "job_attempts",
    "retries_of",
    "waiting_ahead",
    "JOBS",
    "PASSES",
    "PRIORITIES",
    "RELEASE_STATES",
    "TERMINAL_STATES",
    "ClaimLost",
    "Database",
    "DuplicateIdempotencyKey",
    "Fence",
    "FencedBackend",
    "FencedConnection",
    "JobNotFound",
    "JobPass",
    "JobRecord",
    "JobState",
    "LeanStorage",
    "PersistenceError",
    "SchemaError",
    "StorageUnavailable",
    "TaskFailure",
    "TaskHistory",
    "count_by_state",
    "create_engine",
    "upsert_insert",
    "KeyHold",
    "JOB_KEYS",
    "KEY_HOLDS",
    "key_holds",
    "get_job",
    "get_job_by_idempotency_key",
    "is_cancel_requested",
    "injector_detail",
    "job_passes",
    "job_tasks",
    "read_flow_detail",
    "list_jobs",
    "record_from_row",
    "job_ids_starting",
    "running_by_owner",
    "running_jobs",
    "Purgeable",
    "count_purgeable",
    "delete_logbooks",
    "finished_before_clause",
    "purgeable_jobs",
    "FIRE_OUTCOMES",
    "MISSED_POLICIES",
    "FireRecord",
    "ScheduleRecord",
    "advance_schedule",
    "delete_schedule",
    "due_schedules",
    "get_schedule",
    "insert_schedule",
    "list_schedules",
    "schedule_fires",
    "set_paused",
]


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
