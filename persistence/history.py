"""Task history of one flow detail, read from TaskFlow's atom details.

TaskFlow's atom details carry dicts, ``Failure`` objects and, thanks to the
conductor's ``EventTimeListener``, ``<STATE>-timestamp`` unix times in their
``meta``. This module turns them into frozen, JSON-safe value objects so that
nothing above ``persistence`` handles TaskFlow's types.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from persistence.errors import PersistenceError

if TYPE_CHECKING:
    from persistence.database import Database

# TaskFlow names the atoms that hold a flow's store (and other injected
# values) with this prefix; they are not tasks of the flow.
INTERNAL_ATOM_PREFIX = "_TaskFlow_"

# Atom states whose timestamp ends an execute or a revert.
_EXECUTE_ENDS = ("SUCCESS", "FAILURE")
_REVERT_ENDS = ("REVERTED", "REVERT_FAILURE")


@dataclass(frozen=True)
class TaskFailure:
    """Why an execute or a revert raised: the exception's type and message.

    ``type`` is the class name TaskFlow recorded (qualified by its module,
    except for builtins); ``traceback`` reads like Python's own, or is None
    when TaskFlow kept none.
    """

    type: str
    message: str
    traceback: str | None


@dataclass(frozen=True)
class TaskHistory:
    """One task of a flow as its last run left it; datetimes are UTC.

    ``state`` and ``intention`` are TaskFlow's strings (``SUCCESS``,
    ``REVERTED``...; ``EXECUTE``, ``REVERT``...). ``result`` is JSON-safe:
    values JSON cannot hold are replaced by their ``str()``.
    """

    name: str
    state: str
    intention: str
    result: Any
    failure: TaskFailure | None
    revert_failure: TaskFailure | None
    execute_started_at: datetime | None
    execute_finished_at: datetime | None
    revert_started_at: datetime | None
    revert_finished_at: datetime | None
    progress: float

    @property
    def execute_duration(self) -> float | None:
        """Seconds the last execute took, or None if it has not finished."""
        return _seconds(self.execute_started_at, self.execute_finished_at)

    @property
    def revert_duration(self) -> float | None:
        """Seconds the last revert took, or None if it has not finished."""
        return _seconds(self.revert_started_at, self.revert_finished_at)


def read_flow_detail(database: Database, flow_detail_id: str) -> Any | None:
    """TaskFlow's flow detail with its atoms, or None if there is none."""
    from taskflow import exceptions as tf_exc

    connection = database.taskflow_backend().get_connection()
    try:
        return connection.get_flow_details(flow_detail_id)
    except tf_exc.NotFound:
        return None
    except tf_exc.StorageFailure as exc:
        raise PersistenceError(
            f"could not read flow detail {flow_detail_id}: {exc}", retryable=True,
        ) from exc


def job_tasks(database: Database, flow_detail_id: str) -> list[TaskHistory]:
    """The tasks of the flow detail in execution order; never-run tasks last.

    Tasks are ordered by the start of their last execute; those that never
    started follow, by name. A flow detail that no conductor has started yet
    (or that does not exist) has no tasks. Retry atoms are not tasks and are
    left out.
    """
    from taskflow.persistence import models as tf_models

    flow_detail = read_flow_detail(database, flow_detail_id)
    if flow_detail is None:
        return []
    tasks = [
        task_history(atom)
        for atom in flow_detail
        if isinstance(atom, tf_models.TaskDetail)
        and not atom.name.startswith(INTERNAL_ATOM_PREFIX)
    ]
    return sorted(tasks, key=_execution_order)


def task_history(atom: Any) -> TaskHistory:
    """One TaskFlow ``TaskDetail`` as a ``TaskHistory`` (its last run only).

    The listener overwrites each ``<STATE>-timestamp`` on every run, so a
    task run again (after a crash, a retry or a reset) may still carry end
    times of an earlier run; any time before the last run began is dropped.
    """
    stamps = _timestamps(atom.meta)
    run_start = stamps.get("RUNNING")
    reset = stamps.get("PENDING")
    if run_start is not None and reset is not None and reset > run_start:
        run_start = None  # reset after its last run: this run has not started
    boundary = max((t for t in (run_start, reset) if t is not None), default=None)

    def since_boundary(*names: str) -> datetime | None:
        times = [stamps[n] for n in names
                 if n in stamps and (boundary is None or stamps[n] >= boundary)]
        return max(times, default=None)

    execute_finished = since_boundary(*_EXECUTE_ENDS) if run_start is not None else None
    revert_started = since_boundary("REVERTING")
    revert_finished = since_boundary(*_REVERT_ENDS) if revert_started is not None else None
    return TaskHistory(
        name=str(atom.name),
        state=str(atom.state or "PENDING"),
        intention=str(atom.intention),
        result=json_safe(atom.results),
        failure=task_failure(atom.failure),
        revert_failure=task_failure(atom.revert_failure),
        execute_started_at=run_start,
        execute_finished_at=execute_finished,
        revert_started_at=revert_started,
        revert_finished_at=revert_finished,
        progress=_progress(atom.meta),
    )


def task_failure(failure: Any) -> TaskFailure | None:
    """A TaskFlow ``Failure`` (or None) as a ``TaskFailure`` (or None)."""
    if failure is None:
        return None
    type_names = list(failure)  # most derived class first
    type_name = str(type_names[0]) if type_names else "Exception"
    message = str(failure.exception_str or "")
    frames = (failure.traceback_str or "").rstrip("\n")
    traceback = None
    if frames:
        traceback = (f"Traceback (most recent call last):\n{frames}\n"
                     f"{type_name}: {message}")
    return TaskFailure(type=type_name, message=message, traceback=traceback)


def json_safe(value: Any) -> Any:
    """``value`` with everything JSON cannot hold replaced by its ``str()``.

    Mapping keys become strings; tuples, lists and sets become lists (sets
    sorted by their text, so the output is stable); NaN and infinities
    become strings.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((json_safe(v) for v in value), key=str)
    return str(value)


def _execution_order(task: TaskHistory) -> tuple[int, float, str]:
    started = task.execute_started_at
    if started is None:
        return (1, 0.0, task.name)
    return (0, started.timestamp(), task.name)


def _timestamps(meta: Mapping[str, Any] | None) -> dict[str, datetime]:
    stamps: dict[str, datetime] = {}
    for key, value in (meta or {}).items():
        if not key.endswith("-timestamp") or isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and math.isfinite(value):
            stamps[key.removesuffix("-timestamp")] = datetime.fromtimestamp(value, UTC)
    return stamps


def _progress(meta: Mapping[str, Any] | None) -> float:
    value = (meta or {}).get("progress", 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value) if math.isfinite(value) else 0.0


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()
