"""Persistence: engine and sessions, job history, TaskFlow's backend, schema.

This package imports neither ``orchestrator`` nor ``jobs``; it reads no
configuration and takes plain values.
"""

from persistence.database import Database
from persistence.engine import create_engine
from persistence.errors import JobNotFound, PersistenceError, SchemaError
from persistence.history import TaskFailure, TaskHistory, job_tasks
from persistence.records import RELEASE_STATES, TERMINAL_STATES, JobRecord, JobState
from persistence.repository import (
    add_job,
    delete_job,
    get_job,
    list_jobs,
    mark_claimed,
    mark_finished,
    mark_posted,
    mark_released,
)

__all__ = [
    "RELEASE_STATES",
    "TERMINAL_STATES",
    "Database",
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
    "get_job",
    "job_tasks",
    "list_jobs",
    "mark_claimed",
    "mark_finished",
    "mark_posted",
    "mark_released",
]
