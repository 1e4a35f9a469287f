"""JSON views of jobs, tasks, flows and conductors: one shape for the CLI and the API.

Exact and stable: timestamps ISO-8601 in UTC with microseconds
(``2024-05-01T12:00:03.215000+00:00``), durations in seconds (rounded to
microseconds), ``null`` for what is not known.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from orchestrator.explain import Explanation
from orchestrator.registry import FlowInfo
from orchestrator.service import ConductorStatus, JobHistory, JobRecord, TaskFailure, TaskHistory
from persistence import AttemptRecord


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def duration_between(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else _seconds((end - start).total_seconds())


def job_dict(record: JobRecord) -> dict[str, Any]:
    """The job as ``post --json`` prints it."""
    return {
        "id": record.id,
        "flow": record.flow_name,
        "state": record.state.value,
        "attempts": record.attempts,
        "owner": record.owner,
        "created_at": _ts(record.created_at),
        "started_at": _ts(record.started_at),
        "finished_at": _ts(record.finished_at),
        "last_error": record.last_error,
        "priority": record.priority,
        "idempotency_key": record.idempotency_key,
        "cancel_requested_at": _ts(record.cancel_requested_at),
        "cancel_requested_by": record.cancel_requested_by,
        "cancelled": record.cancelled,
        "retry_of": record.retry_of,
        "concurrency_keys": list(record.concurrency_keys),
        "document": record.document,
        "logbook_id": record.logbook_id,
        "flow_detail_id": record.flow_detail_id,
        "store": record.store,
    }


def job_summary_dict(record: JobRecord) -> dict[str, Any]:
    """``job_dict`` plus the board id, last update and run time in seconds."""
    return {
        **job_dict(record),
        "board_job_id": record.board_job_id,
        "updated_at": _ts(record.updated_at),
        "duration": duration_between(record.started_at, record.finished_at),
    }


def failure_dict(failure: TaskFailure | None, *, traceback: bool) -> dict[str, Any] | None:
    """The failure; ``traceback`` is null unless asked for."""
    if failure is None:
        return None
    return {
        "type": failure.type,
        "message": failure.message,
        "traceback": failure.traceback if traceback else None,
    }


def task_dict(task: TaskHistory, *, traceback: bool = False) -> dict[str, Any]:
    """One task's last run: state, result, failures, execute and revert times."""
    return {
        "name": task.name,
        "state": task.state,
        "intention": task.intention,
        "progress": task.progress,
        "result": task.result,
        "failure": failure_dict(task.failure, traceback=traceback),
        "revert_failure": failure_dict(task.revert_failure, traceback=traceback),
        "execute_started_at": _ts(task.execute_started_at),
        "execute_finished_at": _ts(task.execute_finished_at),
        "execute_duration": _seconds(task.execute_duration),
        "revert_started_at": _ts(task.revert_started_at),
        "revert_finished_at": _ts(task.revert_finished_at),
        "revert_duration": _seconds(task.revert_duration),
    }


def history_dict(history: JobHistory, *, traceback: bool = False) -> dict[str, Any]:
    """``job_summary_dict`` with ``tasks``: every task in execution order."""
    return {
        **job_summary_dict(history.record),
        "tasks": [task_dict(t, traceback=traceback) for t in history.tasks],
        "passed_over": [{"conductor": p.conductor, "reason": p.reason,
                         "passed_at": _ts(p.passed_at)} for p in history.passed_over],
        "attempt_history": [attempt_dict(a) for a in history.attempts],
        "retried_by": list(history.retried_by),
    }


def job_detail_dict(history: JobHistory, *, undoable: bool) -> dict[str, Any]:
    """``history_dict`` with tracebacks, and whether the job can be undone now."""
    return {**history_dict(history, traceback=True), "undoable": undoable}


def attempt_dict(attempt: AttemptRecord) -> dict[str, Any]:
    return {"number": attempt.number, "conductor": attempt.conductor,
            "started_at": _ts(attempt.started_at), "ended_at": _ts(attempt.ended_at),
            "duration": duration_between(attempt.started_at, attempt.ended_at),
            "outcome": None if attempt.outcome is None else attempt.outcome.value,
            "job_state": attempt.job_state, "step": attempt.step,
            "detail": attempt.detail}


def explanation_dict(explanation: Explanation) -> dict[str, Any]:
    holder = explanation.holder
    return {"job_id": explanation.job_id, "state": explanation.state,
            "summary": explanation.summary, "reasons": list(explanation.reasons),
            "holder": None if holder is None else {
                "conductor": holder.conductor, "since": _ts(holder.since),
                "alive": holder.alive},
            "next_attempt_at": _ts(explanation.next_attempt_at)}


def flow_dict(info: FlowInfo) -> dict[str, Any]:
    return {"name": info.name, "description": info.description,
            "requires": sorted(info.requires), "optional": sorted(info.optional),
            "provides": sorted(info.provides), "document": info.document,
            "source": info.source,
            "revertible_after_success": info.revertible_after_success}


def conductor_dict(status: ConductorStatus) -> dict[str, Any]:
    info = status.info
    return {"name": info.name, "entity": info.entity, "hostname": info.hostname,
            "pid": info.pid, "registered_at": _ts(info.registered_at),
            "engine": info.metadata.get("engine"),
            "max_simultaneous_jobs": info.metadata.get("max_simultaneous_jobs"),
            "version": info.metadata.get("version"), "running_jobs": status.running_jobs}
