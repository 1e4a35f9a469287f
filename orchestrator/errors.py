"""Errors of the orchestrator package.

Each class's docstring is its default message. ``retryable`` tells a caller
whether the same request may succeed later; ``client_error`` marks mistakes in
the request itself, which the CLI maps to exit code 2 (and the API to 4xx).
"""

from __future__ import annotations

from collections.abc import Iterable

#: The failure a cancelled job's next task is given (``orchestrator.engines``):
#: named here, where showing a job (even from the API's JSON) finds it without
#: importing the engines. A cancellation is shown as such, never as a failure.
CANCELLATION_TYPE = "orchestrator.engines.JobCancelled"


class OrchestratorError(Exception):
    """The orchestrator could not complete the request."""

    client_error = False
    retryable = False

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self)


class InvalidRequest(OrchestratorError):
    """The request is invalid."""

    client_error = True


class UnknownFlow(InvalidRequest):
    """No flow is registered under that name."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        listing = ", ".join(known) if known else "none are registered"
        super().__init__(f"unknown flow {name!r}; registered flows: {listing}")
        self.name = name
        self.known = known


class MissingInputs(InvalidRequest):
    """The store lacks inputs the flow requires."""

    def __init__(self, flow: str, missing: Iterable[str]) -> None:
        self.missing = sorted(missing)
        super().__init__(
            f"flow {flow!r} requires inputs missing from the store: "
            + ", ".join(self.missing)
        )


class InvalidStore(InvalidRequest):
    """The store must be a JSON object mapping input names to values."""


class InvalidText(InvalidRequest):
    """Text holds a character that cannot be stored: NUL or an unpaired surrogate."""

    def __init__(self, where: str, char: str) -> None:
        kind = ("a NUL character" if char == "\x00"
                else f"an unpaired surrogate (U+{ord(char):04X}), which is not valid Unicode")
        super().__init__(f"{where} holds {kind}; it cannot be stored")
        self.where = where


class NestingTooDeep(InvalidRequest):
    """A value nests objects and arrays deeper than allowed."""

    def __init__(self, where: str, limit: int) -> None:
        super().__init__(f"objects and arrays nest more than {limit} levels deep, at "
                         f"{where} (the limit is [api] max_nesting_depth)")
        self.where = where
        self.limit = limit


class JobTooLarge(InvalidRequest):
    """The encoded job is too large for the jobboard."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the encoded job is too large for the jobboard: {size} bytes, "
                         f"more than its limit of {limit} bytes; pass large inputs by "
                         "reference (a path or a URL) instead")
        self.size = size
        self.limit = limit


class JobNotFound(InvalidRequest):
    """No job has that id."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}")
        self.job_id = job_id


class AmbiguousJobId(InvalidRequest):
    """A job id prefix that more than one job's id starts with."""

    code = "ambiguous_job_id"

    def __init__(self, prefix: str, matches: list[str]) -> None:
        shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
        super().__init__(f"job id prefix {prefix!r} is ambiguous: it starts {shown}; "
                         "give more of the id")
        self.prefix = prefix
        self.matches = matches


class InvalidMarker(InvalidRequest):
    """The pagination marker names no job; start again without one."""

    def __init__(self, marker: str) -> None:
        super().__init__(f"invalid marker {marker!r}: no job has that id")
        self.marker = marker


class Conflict(InvalidRequest):
    """The request conflicts with the job's current state."""


class JobFinished(Conflict):
    """The job has already finished."""

    def __init__(self, job_id: str, state: str) -> None:
        super().__init__(f"job {job_id} has already finished ({state}); "
                         "only an unfinished job can be cancelled")
        self.job_id = job_id
        self.state = state


class JobNotFinished(Conflict):
    """The job has not finished yet."""

    def __init__(self, job_id: str, state: str, action: str) -> None:
        super().__init__(f"job {job_id} is {state}: only a finished job can be {action}; "
                         f"cancel it first, or wait for it to finish")
        self.job_id = job_id
        self.state = state


class NoFailedRevert(Conflict):
    """The job has no failed revert to resume."""

    def __init__(self, job_id: str, reason: str) -> None:
        super().__init__(f"job {job_id} has no failed revert to resume: {reason}")
        self.job_id = job_id


class NotUndoable(Conflict):
    """The job cannot be undone: it did not succeed, or its flow does not allow it."""

    def __init__(self, job_id: str, reason: str) -> None:
        super().__init__(f"job {job_id} cannot be undone: {reason}")
        self.job_id = job_id


class IdempotencyConflict(Conflict):
    """The idempotency key was already used for a different request."""

    def __init__(self, key: str, job_id: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used by job {job_id} "
                         "with a different flow or store")
        self.key = key
        self.job_id = job_id


class FlowLoadError(OrchestratorError):
    """A registered flow could not be built."""


class ServiceUnavailable(OrchestratorError):
    """A service the orchestrator needs (ZooKeeper or the database) is unreachable."""

    retryable = True


class WaitTimeout(OrchestratorError):
    """The job did not finish in the time allowed."""

    retryable = True


class InvalidSchedule(InvalidRequest):
    """The schedule is invalid: its cron expression, time zone or missed policy."""


class ScheduleNotFound(InvalidRequest):
    """No schedule has that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no schedule named {name!r}")
        self.name = name


class ScheduleExists(Conflict):
    """A schedule of that name exists already."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a schedule named {name!r} exists already; delete it first, "
                         "or choose another name")
        self.name = name
