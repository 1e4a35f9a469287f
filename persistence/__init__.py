"""Persistence: engine and sessions, job history, TaskFlow's backend, schema.

This package imports neither ``orchestrator`` nor ``jobs``; it reads no
configuration and takes plain values.
"""

from persistence.database import Database
from persistence.engine import create_engine
from persistence.errors import (
    DuplicateIdempotencyKey,
    JobNotFound,
    PersistenceError,
    SchemaError,
)
from persistence.history import TaskFailure, TaskHistory, job_tasks
from persistence.records import (
    PRIORITIES,
    RELEASE_STATES,
    TERMINAL_STATES,
    JobRecord,
    JobState,
)
from persistence.repository import (
    add_job,
    delete_job,
    finish_unstarted,
    get_job,
    get_job_by_idempotency_key,
    is_cancel_requested,
    list_jobs,
    mark_claimed,
    mark_finished,
    mark_posted,
    mark_released,
    request_cancel,
    running_by_owner,
)

__all__ = [
    "PRIORITIES",
    "RELEASE_STATES",
    "TERMINAL_STATES",
    "Database",
    "DuplicateIdempotencyKey",
    "JobNotFound",
    "JobRecord",
    "JobState",
    "PersistenceError",
    "SchemaError",
    "TaskFailure",
    "TaskHistory",
    "add_job",
    "create_engine",
    "delete_job",
    "finish_unstarted",
    "get_job",
    "get_job_by_idempotency_key",
    "is_cancel_requested",
    "job_tasks",
    "list_jobs",
    "mark_claimed",
    "mark_finished",
    "mark_posted",
    "mark_released",
    "request_cancel",
    "running_by_owner",
]
