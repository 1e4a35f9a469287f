"""Plain value objects handed out by the repository (never ORM rows)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# The states live apart so that the CLI can offer them without defining the
# records (a read-only command's start-up counts in milliseconds).
from persistence.states import RELEASE_STATES as RELEASE_STATES
from persistence.states import TERMINAL_STATES as TERMINAL_STATES
from persistence.states import JobState as JobState

# Jobboard priorities, highest first (TaskFlow's ``JobPriority`` names).
PRIORITIES: tuple[str, ...] = ("VERY_HIGH", "HIGH", "NORMAL", "LOW", "VERY_LOW")


@dataclass(frozen=True)
class JobRecord:
    """One row of job history; all datetimes are timezone-aware UTC."""

    id: str
    flow_name: str
    state: JobState
    store: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    owner: str | None
    logbook_id: str
    flow_detail_id: str
    board_job_id: str | None
    last_error: str | None
    priority: str = "NORMAL"
    idempotency_key: str | None = None
    cancel_requested_at: datetime | None = None
    document: dict[str, Any] | None = None
    claim_epoch: int = 0
    not_before: datetime | None = None
    lost_streak: int = 0
    cancel_requested_by: str | None = None
    retry_of: str | None = None
    #: At most N jobs sharing one of these keys run at once (N per key prefix).
    concurrency_keys: tuple[str, ...] = ()

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def cancelled(self) -> bool:
        """Whether the job ended because it was cancelled (its steps reverted)."""
        return self.cancel_requested_at is not None and self.state is JobState.REVERTED

    @property
    def quarantined(self) -> bool:
        """Whether the job was failed for killing or losing its conductor repeatedly."""
        return (self.state is JobState.FAILED
                and (self.last_error or "").startswith(QUARANTINED))


#: How a quarantined job's ``last_error`` begins.
QUARANTINED = "quarantined after"


class AttemptOutcome(enum.StrEnum):
    """How an attempt ended; persisted in ``orchestrator_attempts.outcome``."""

    FINISHED = "finished"            # the flow ended: SUCCESS, REVERTED or FAILED
    CANCELLED = "cancelled"          # the flow was reverted because it was cancelled
    SUSPENDED = "suspended"          # the conductor stopped; the flow resumes later
    CONDUCTOR_LOST = "conductor_lost"  # killed, frozen, or its session expired
    STORAGE_ERROR = "storage_error"  # the database failed; handed back with backoff
    ERROR = "error"                  # an unexpected error in the run itself


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt at a job; ``outcome`` is None while it runs (or until its
    conductor's loss is noticed)."""

    job_id: str
    number: int
    conductor: str
    started_at: datetime
    ended_at: datetime | None
    outcome: AttemptOutcome | None
    job_state: str | None
    step: str | None
    detail: str | None


@dataclass(frozen=True)
class JobPass:
    """A conductor that left a job to others: it lacks the flow, a command..."""

    conductor: str
    reason: str
    passed_at: datetime
