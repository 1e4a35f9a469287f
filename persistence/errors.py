"""Errors of the persistence package.

Each class's docstring is its default message. ``retryable`` tells a caller
whether the same operation may succeed later (for example once the database is
reachable again).
"""

from __future__ import annotations


class PersistenceError(Exception):
    """The database operation failed."""

    retryable = False

    def __init__(self, message: str | None = None, *, retryable: bool | None = None):
        super().__init__(message or (self.__doc__ or "").strip())
        if retryable is not None:
            self.retryable = retryable

    @property
    def message(self) -> str:
        return str(self)


class JobNotFound(PersistenceError):
    """No job has that id."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}")
        self.job_id = job_id


class SchemaError(PersistenceError):
    """The database schema is missing, outdated or unreachable."""


class DuplicateIdempotencyKey(PersistenceError):
    """Another job was recorded with that idempotency key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"a job with idempotency key {key!r} already exists")
        self.key = key


class ClaimLost(PersistenceError):
    """A newer claim holds the job: this write, made under an older claim, was refused."""

    def __init__(self, job_id: str, epoch: int, message: str | None = None) -> None:
        super().__init__(message or (
            f"job {job_id}: the claim with epoch {epoch} is no longer current; "
            "the write was refused"))
        self.job_id = job_id
        self.epoch = epoch


class StorageUnavailable(PersistenceError):
    """The database stayed unreachable and the write was given up."""

    retryable = True
