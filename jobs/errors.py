"""Errors of the jobs package. The docstring is the default message."""

from __future__ import annotations


class JobsError(Exception):
    """A jobboard operation failed."""

    retryable = False

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class BoardUnavailable(JobsError):
    """The ZooKeeper jobboard cannot be reached."""

    retryable = True


class PostingFailed(JobsError):
    """The job could not be posted; nothing of it was kept."""

    retryable = True


class InvalidJobDetails(JobsError):
    """The job's details are not a job this release can run."""
