"""Job states, as persisted in ``orchestrator_jobs.state``."""

from __future__ import annotations

import enum


class JobState(enum.StrEnum):
    """Lifecycle of a job as recorded in ``orchestrator_jobs``.

    The values are persisted: never rename one.
    """

    POSTING = "POSTING"
    POSTED = "POSTED"
    RUNNING = "RUNNING"
    SUSPENDED = "SUSPENDED"
    SUCCESS = "SUCCESS"
    REVERTED = "REVERTED"
    FAILED = "FAILED"


TERMINAL_STATES: frozenset[JobState] = frozenset(
    {JobState.SUCCESS, JobState.REVERTED, JobState.FAILED}
)

# States a claimed job may be handed back in (see ``jobs.lifecycle``).
RELEASE_STATES: frozenset[JobState] = frozenset({JobState.POSTED, JobState.SUSPENDED})
