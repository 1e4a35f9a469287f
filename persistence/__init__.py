"""Persistence: engine and sessions, job history, TaskFlow's backend, schema.

This package imports neither ``orchestrator`` nor ``jobs``; it reads no
configuration and takes plain values.
"""

from persistence.database import Database
from persistence.engine import create_engine
from persistence.errors import (
    ClaimLost,
    DuplicateIdempotencyKey,
    JobNotFound,
    PersistenceError,
    SchemaError,
    StorageUnavailable,
)
from persistence.fencing import Fence
from persistence.history import TaskFailure, TaskHistory, job_tasks, read_flow_detail
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
from persistence.taskflow_backend import FencedBackend, FencedConnection
from persistence.taskflow_storage import LeanStorage, injector_detail

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
]
