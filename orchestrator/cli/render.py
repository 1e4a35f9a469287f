"""Renderings of jobs: stable JSON for scripts, rich tables for people.

JSON output is exact and stable: keys sorted, timestamps ISO-8601 in UTC with
microseconds (``2024-05-01T12:00:03.215000+00:00``), durations in seconds
(rounded to microseconds), ``null`` for what is not known.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from orchestrator.explain import Explanation
from orchestrator.service import JobHistory, JobRecord, TaskHistory
from orchestrator.views import (
    duration_between,
    history_dict,
    is_cancellation,
    job_dict,
    job_summary_dict,
)

# Colours of job states (ours) and task states (TaskFlow's) in tables.
STATE_STYLES = {
    "SUCCESS": "green",
    "RUNNING": "cyan",
    "POSTING": "dim",
    "POSTED": "blue",
    "PENDING": "dim",
    "SUSPENDED": "magenta",
    "REVERTING": "yellow",
    "REVERTED": "yellow",
    "FAILED": "bold red",
    "FAILURE": "bold red",
    "REVERT_FAILURE": "bold red",
    "CANCELLED": "yellow",
}

_RESULT_WIDTH = 60


# JSON ----------------------------------------------------------------------


#: Width for output that is not a terminal (a pipe, a log): rich would use 80,
#: which squeezes job ids and paths; a terminal keeps its own width.
PIPE_WIDTH = 140


def console(*, stderr: bool = False) -> Console:
    out = Console(stderr=stderr)
    if not out.is_terminal:
        out = Console(stderr=stderr, width=PIPE_WIDTH)
    return out


def job_json(record: JobRecord) -> str:
    """``job_dict`` as indented JSON, keys sorted."""
    return json.dumps(job_dict(record), indent=2, sort_keys=True)


def jobs_json(records: Iterable[JobRecord]) -> str:
    """A JSON array of ``job_summary_dict``, in the order given."""
    return json.dumps([job_summary_dict(r) for r in records], indent=2, sort_keys=True)


def history_json(history: JobHistory, *, traceback: bool = False) -> str:
    """``history_dict`` as indented JSON, keys sorted."""
    return json.dumps(history_dict(history, traceback=traceback), indent=2, sort_keys=True)


# tables --------------------------------------------------------------------


def state_text(state: str) -> Text:
    """A job or task state, coloured."""
    return Text(state, style=STATE_STYLES.get(state, ""))


def job_state_text(record: JobRecord) -> Text:
    """The job's state; a job reverted because it was cancelled shows CANCELLED."""
    return state_text("CANCELLED" if record.cancelled else record.state.value)


def human_duration(seconds: float | None) -> str:
    """``2 ms``, ``1.25 s``, ``3m 04s``, ``2h 05m``; empty when unknown."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _when_utc(value: datetime | None) -> str:
    return "" if value is None else f"{_when(value)} UTC"


def _clock(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]


def jobs_table(records: Sequence[JobRecord]) -> Table:
    """One row per job, in the order given (newest first from the service)."""
    table = Table()
    # Ids fold rather than squeeze the other columns away on narrow terminals;
    # a folded id still selects and pastes whole in most terminals.
    table.add_column("job", overflow="fold", min_width=8)
    table.add_column("flow", min_width=8)
    table.add_column("state", no_wrap=True)
    table.add_column("tries", justify="right", no_wrap=True)
    table.add_column("owner", min_width=5)
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("took", justify="right", no_wrap=True)
    for r in records:
        table.add_row(
            Text(r.id), Text(r.flow_name), job_state_text(r), str(r.attempts),
            Text(r.owner or ""), _when(r.created_at),
            human_duration(duration_between(r.started_at, r.finished_at)),
        )
    return table


def _span(start: datetime | None, end: datetime | None, running: str) -> Text:
    """Start time, then how long it took (or that it is still going)."""
    if start is None:
        return Text("")
    text = Text(_clock(start))
    took = duration_between(start, end)
    text.append("\n")
    text.append(f"took {human_duration(took)}" if took is not None else running,
                style="dim")
    return text


def _outcome(task: TaskHistory) -> Text:
    text = Text()
    if is_cancellation(task.failure):
        assert task.failure is not None
        text.append(f"not run: {task.failure.message}", style="yellow")
    elif task.failure is not None:
        text.append(f"{task.failure.type}: {task.failure.message}", style="red")
    if task.revert_failure is not None:
        if text:
            text.append("\n")
        text.append(f"revert: {task.revert_failure.type}: {task.revert_failure.message}",
                    style="red")
    if not text and task.result is not None:
        result = json.dumps(task.result, sort_keys=True)
        if len(result) > _RESULT_WIDTH:
            result = result[: _RESULT_WIDTH - 1] + "…"
        text.append(result)
    return text


def tasks_table(tasks: Sequence[TaskHistory]) -> Table:
    """Tasks in execution order: state, execute and revert times, outcome."""
    table = Table(title="tasks")
    table.add_column("#", justify="right")
    table.add_column("task")
    table.add_column("state")
    table.add_column("execute (UTC)", no_wrap=True)
    table.add_column("revert (UTC)", no_wrap=True)
    table.add_column("result / failure", overflow="fold")
    for number, task in enumerate(tasks, start=1):
        table.add_row(
            str(number), Text(task.name), state_text(task.state),
            _span(task.execute_started_at, task.execute_finished_at, "running"),
            _span(task.revert_started_at, task.revert_finished_at, "reverting"),
            _outcome(task),
        )
    return table


def job_panel(record: JobRecord) -> Table:
    """The job's fields, one per row."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    rows: list[tuple[str, Text | str]] = [
        ("job", Text(record.id)),
        ("flow", Text(record.flow_name)),
        ("state", job_state_text(record)),
        ("owner", Text(record.owner or "")),
        ("attempts", str(record.attempts)),
        ("created", _when_utc(record.created_at)),
        ("started", _when_utc(record.started_at)),
        ("finished", _when_utc(record.finished_at)),
        ("took", human_duration(duration_between(record.started_at, record.finished_at))),
        ("store", Text(json.dumps(record.store, sort_keys=True))),
    ]
    if record.cancelled:
        rows.append(("cancelled", Text(record.last_error or "cancelled", style="yellow")))
    elif record.last_error:
        rows.append(("error", Text(record.last_error, style="red")))
    if record.retry_of:
        rows.append(("retry of", Text(record.retry_of)))
    for key, value in rows:
        grid.add_row(key, value)
    return grid


def attempts_table(history: JobHistory) -> Table:
    """Each attempt: its conductor, when, how long, how it ended, the step reached."""
    table = Table(title="attempts")
    table.add_column("#", justify="right")
    table.add_column("conductor", overflow="fold")
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("took", justify="right", no_wrap=True)
    table.add_column("outcome")
    table.add_column("step reached", overflow="fold")
    table.add_column("detail", overflow="fold")
    for a in history.attempts:
        outcome = a.outcome.value.replace("_", " ") if a.outcome else "running"
        if a.outcome is not None and a.job_state:
            outcome += f" ({a.job_state})"
        table.add_row(str(a.number), Text(a.conductor), _when(a.started_at),
                      human_duration(duration_between(a.started_at, a.ended_at)),
                      Text(outcome, style=_OUTCOME_STYLES.get(
                          a.outcome.value if a.outcome else "", "cyan")),
                      Text(a.step or ""), Text(a.detail or "", style="dim"))
    return table


_OUTCOME_STYLES = {"finished": "", "cancelled": "yellow", "suspended": "magenta",
                   "conductor_lost": "red", "storage_error": "red", "error": "red"}


def history_view(history: JobHistory, *, traceback: bool = False) -> RenderableType:
    """The job's fields, its tasks and, if asked, the tracebacks of failures."""
    record = history.record
    parts: list[RenderableType] = [job_panel(record)]
    if history.retried_by:
        parts.append(Text("retried by: " + ", ".join(history.retried_by)))
    if history.tasks:
        parts.append(tasks_table(history.tasks))
    else:
        hint = "" if record.is_terminal else (
            f"; 'orchestrator jobs explain {record.id[:8]}' says why")
        parts.append(Text(f"no task has started yet{hint}", style="dim"))
    if history.attempts:
        parts.append(attempts_table(history))
    for passed in history.passed_over:
        parts.append(Text(f"passed over by {passed.conductor} at "
                          f"{_when(passed.passed_at)}: {passed.reason}", style="yellow"))
    if traceback:
        for task in history.tasks:
            for what, failure in (("execute", task.failure),
                                  ("revert", task.revert_failure)):
                if failure is None or is_cancellation(failure):
                    continue
                body = failure.traceback or f"{failure.type}: {failure.message}\n" \
                    "(no traceback was recorded)"
                parts.append(Panel(Text(body), title=Text(f"{task.name}: {what} failed"),
                                   title_align="left", border_style="red"))
    return Group(*parts)


def explanation_view(explanation: Explanation) -> RenderableType:
    """The summary, who holds the job, when it may run again, and the details."""
    parts: list[RenderableType] = [Text(explanation.summary)]
    holder = explanation.holder
    if holder is not None:
        alive = {True: "alive", False: "not alive", None: "liveness unknown"}[holder.alive]
        parts.append(Text(f"held by: {holder.conductor} ({alive}) since "
                          f"{_when_utc(holder.since)}"))
    if explanation.next_attempt_at is not None:
        parts.append(Text(f"next attempt: {_when_utc(explanation.next_attempt_at)}"))
    parts += [Text(f"  - {reason}", style="dim") for reason in explanation.reasons]
    return Group(*parts)
