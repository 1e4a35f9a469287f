"""The service layer: posting and inspecting jobs.

The CLI, the HTTP API and Python callers all go through ``Orchestrator``;
none of them talks to the jobboard or the database on its own.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jobs
import persistence
from orchestrator.errors import (
    InvalidStore,
    JobNotFound,
    MissingInputs,
    OrchestratorError,
    ServiceUnavailable,
    WaitTimeout,
)
from orchestrator.registry import FlowInfo, FlowRegistry

JobRecord = persistence.JobRecord
JobState = persistence.JobState
TaskFailure = persistence.TaskFailure
TaskHistory = persistence.TaskHistory


@dataclass(frozen=True)
class JobHistory:
    """What happened to a job: its record and its tasks in execution order."""

    record: JobRecord
    tasks: list[TaskHistory]


class Orchestrator:
    """Posts jobs for registered flows and reads their records."""

    def __init__(
        self,
        database: persistence.Database,
        registry: FlowRegistry,
        board_settings: jobs.JobboardSettings,
        *,
        client_name: str = "orchestrator-client",
        close_database: bool = False,
    ) -> None:
        self._db = database
        self._registry = registry
        self._board_settings = board_settings
        self._client_name = client_name
        self._stack = contextlib.ExitStack()
        if close_database:
            self._stack.callback(database.close)
        self._board: Any = None
        self._schema_checked = False

    def __enter__(self) -> Orchestrator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()
        self._board = None

    # flows -----------------------------------------------------------------

    def flows(self) -> list[FlowInfo]:
        return list(self._registry.describe_all())

    def validate(self, flow_name: str, store: object) -> str:
        """Check that the flow is registered and the store satisfies it.

        Returns the flow's label (its TaskFlow name). Nothing is written.
        """
        if not isinstance(store, Mapping) or not all(isinstance(k, str) for k in store):
            raise InvalidStore(
                "the store must be a JSON object mapping input names to values, "
                f"not {type(store).__name__}"
            )
        try:
            json.dumps(store, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidStore(f"the store is not plain JSON: {exc}") from exc
        flow = self._registry.build(flow_name)
        missing = set(flow.requires) - set(store)
        if missing:
            raise MissingInputs(flow_name, missing)
        return str(flow.name)

    # jobs ------------------------------------------------------------------

    def post(self, flow_name: str, store: Mapping[str, Any] | None = None,
             *, priority: str = "NORMAL") -> JobRecord:
        store = {} if store is None else store
        label = self.validate(flow_name, store)
        self._check_schema()
        try:
            return jobs.post_job(self._db, self._jobboard(), flow_name=flow_name,
                                 flow_label=label, store=store, priority=priority)
        except jobs.JobsError as exc:
            raise ServiceUnavailable(str(exc)) from exc

    def get_job(self, job_id: str) -> JobRecord:
        self._check_schema()
        with self._db.session() as session:
            record = persistence.get_job(session, job_id)
        if record is None:
            raise JobNotFound(job_id)
        return record

    def job_history(self, job_id: str) -> JobHistory:
        """The job's record and its tasks as their last run left them.

        A job no conductor has started yet has no tasks. The record is read
        first: a job that is terminal in it has every task's final state.
        """
        record = self.get_job(job_id)
        return JobHistory(record=record,
                          tasks=persistence.job_tasks(self._db, record.flow_detail_id))

    def list_jobs(self, *, states: Collection[JobState] | None = None,
                  flow_name: str | None = None, since: datetime | None = None,
                  limit: int = 100) -> list[JobRecord]:
        self._check_schema()
        with self._db.session() as session:
            return persistence.list_jobs(session, states=states, flow_name=flow_name,
                                         since=since, limit=limit)

    def wait(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        interval: float = 0.2,
        on_change: Callable[[JobRecord], None] | None = None,
    ) -> JobRecord:
        """Follow a job until it finishes; call ``on_change`` on every change."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: tuple[Any, ...] | None = None
        while True:
            record = self.get_job(job_id)
            key = (record.state, record.attempts, record.owner)
            if key != last:
                last = key
                if on_change is not None:
                    on_change(record)
            if record.state in persistence.TERMINAL_STATES:
                return record
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"job {job_id} is still {record.state.value} after {timeout:g}s"
                )
            time.sleep(interval)

    # internals -------------------------------------------------------------

    def _jobboard(self) -> Any:
        if self._board is None:
            try:
                self._board = self._stack.enter_context(
                    jobs.open_jobboard(self._board_settings, self._client_name,
                                       self._db.taskflow_backend())
                )
            except jobs.BoardUnavailable as exc:
                raise ServiceUnavailable(str(exc)) from exc
        return self._board

    def _check_schema(self) -> None:
        if not self._schema_checked:
            check_schema(self._db)
            self._schema_checked = True


def check_schema(database: persistence.Database) -> None:
    """Refuse to work on a database that 'orchestrator db upgrade' has not prepared."""
    try:
        current = database.schema_current()
    except persistence.PersistenceError as exc:
        raise ServiceUnavailable(str(exc)) from exc
    if not current:
        raise OrchestratorError(
            f"the database {database.url} is not initialised or not up to date: "
            "run 'orchestrator db upgrade'"
        )
