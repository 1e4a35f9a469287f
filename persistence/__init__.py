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
from persistence.history import TaskFailure, TaskHistory, job_tasks
from persistence.records import (
    PRIORITIES,
    RELEASE_STATES,
    TERMINAL_STATES,
    JobPass,
    JobRecord,
    JobState,
)
from persistence.repository import (
    JOBS,
    PASSES,
    get_job,
    get_job_by_idempotency_key,
    is_cancel_requested,
    job_ids_starting,
    job_passes,
    list_jobs,
    record_from_row,
    running_by_owner,
    running_jobs,
)
from persistence.taskflow_backend import FencedBackend, FencedConnection
from persistence.taskflow_storage import LeanStorage, injector_detail

__all__ = [
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
    "create_engine",
    "get_job",
    "get_job_by_idempotency_key",
    "is_cancel_requested",
    "injector_detail",
    "job_passes",
    "job_tasks",
    "list_jobs",
    "record_from_row",
    "job_ids_starting",
    "running_by_owner",
    "running_jobs",
]
