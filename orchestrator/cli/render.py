"""Renderings of jobs for people: rich tables and panels (``jsonout`` for scripts)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from orchestrator.errors import CANCELLATION_TYPE

# Tables and panels take the JSON views of ``orchestrator.views`` (the API's
# bodies), not records: a read-only command that fetched them over HTTP shows
# exactly what one reading the database shows, and neither imports the
# service (SQLAlchemy, TaskFlow) just to draw a table.

#: A JSON view: a job, a job's history, a task, an explanation...
View = Mapping[str, Any]

TERMINAL_STATES = frozenset({"SUCCESS", "REVERTED", "FAILED"})

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


# tables --------------------------------------------------------------------


def state_text(state: str) -> Text:
    """A job or task state, coloured."""
    return Text(state, style=STATE_STYLES.get(state, ""))


def job_state_text(job: View) -> Text:
    """The job's state; a job reverted because it was cancelled shows CANCELLED."""
    return state_text("CANCELLED" if job["cancelled"] else job["state"])


def is_cancellation(failure: View | None) -> bool:
    """Whether the failure only says that the job was cancelled before the task."""
    return failure is not None and failure["type"] == CANCELLATION_TYPE


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _took(start: str | None, end: str | None) -> float | None:
    begun, ended = _time(start), _time(end)
    return None if begun is None or ended is None else (ended - begun).total_seconds()


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


def _when(value: str | None) -> str:
    when = _time(value)
    return "" if when is None else when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _when_utc(value: str | None) -> str:
    return "" if value is None else f"{_when(value)} UTC"


def _clock(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]


def jobs_table(jobs: Sequence[View]) -> Table:
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
    for job in jobs:
        table.add_row(
            Text(job["id"]), Text(job["flow"]), job_state_text(job), str(job["attempts"]),
            Text(job["owner"] or ""), _when(job["created_at"]),
            human_duration(_took(job["started_at"], job["finished_at"])),
        )
    return table


def _span(start: str | None, end: str | None, running: str) -> Text:
    """Start time, then how long it took (or that it is still going)."""
    begun = _time(start)
    if begun is None:
        return Text("")
    text = Text(_clock(begun))
    took = _took(start, end)
    text.append("\n")
    text.append(f"took {human_duration(took)}" if took is not None else running,
                style="dim")
    return text


def _outcome(task: View) -> Text:
    text = Text()
    failure, revert_failure = task["failure"], task["revert_failure"]
    if is_cancellation(failure):
        text.append(f"not run: {failure['message']}", style="yellow")
    elif failure is not None:
        text.append(f"{failure['type']}: {failure['message']}", style="red")
    if revert_failure is not None:
        if text:
            text.append("\n")
        text.append(f"revert: {revert_failure['type']}: {revert_failure['message']}",
                    style="red")
    if not text and task["result"] is not None:
        result = json.dumps(task["result"], sort_keys=True)
        if len(result) > _RESULT_WIDTH:
            result = result[: _RESULT_WIDTH - 1] + "…"
        text.append(result)
    return text


def tasks_table(tasks: Sequence[View]) -> Table:
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
            str(number), Text(task["name"]), state_text(task["state"]),
            _span(task["execute_started_at"], task["execute_finished_at"], "running"),
            _span(task["revert_started_at"], task["revert_finished_at"], "reverting"),
            _outcome(task),
        )
    return table


def job_panel(job: View) -> Table:
    """The job's fields, one per row."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    rows: list[tuple[str, Text | str]] = [
        ("job", Text(job["id"])),
        ("flow", Text(job["flow"])),
        ("state", job_state_text(job)),
        ("owner", Text(job["owner"] or "")),
        ("attempts", str(job["attempts"])),
        ("created", _when_utc(job["created_at"])),
        ("started", _when_utc(job["started_at"])),
        ("finished", _when_utc(job["finished_at"])),
        ("took", human_duration(_took(job["started_at"], job["finished_at"]))),
        ("store", Text(json.dumps(job["store"], sort_keys=True))),
    ]
    if job["cancelled"]:
        rows.append(("cancelled", Text(job["last_error"] or "cancelled", style="yellow")))
    elif job["last_error"]:
        rows.append(("error", Text(job["last_error"], style="red")))
    if job["retry_of"]:
        rows.append(("retry of", Text(job["retry_of"])))
    for key, value in rows:
        grid.add_row(key, value)
    return grid


def attempts_table(attempts: Sequence[View]) -> Table:
    """Each attempt: its conductor, when, how long, how it ended, the step reached."""
    table = Table(title="attempts")
    table.add_column("#", justify="right")
    table.add_column("conductor", overflow="fold")
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("took", justify="right", no_wrap=True)
    table.add_column("outcome")
    table.add_column("step reached", overflow="fold")
    table.add_column("detail", overflow="fold")
    for a in attempts:
        ended = a["outcome"]
        outcome = ended.replace("_", " ") if ended else "running"
        if ended is not None and a["job_state"]:
            outcome += f" ({a['job_state']})"
        table.add_row(str(a["number"]), Text(a["conductor"]), _when(a["started_at"]),
                      human_duration(_took(a["started_at"], a["ended_at"])),
                      Text(outcome, style=_OUTCOME_STYLES.get(ended or "", "cyan")),
                      Text(a["step"] or ""), Text(a["detail"] or "", style="dim"))
    return table


_OUTCOME_STYLES = {"finished": "", "cancelled": "yellow", "suspended": "magenta",
                   "conductor_lost": "red", "storage_error": "red", "error": "red"}


def history_view(history: View, *, traceback: bool = False) -> RenderableType:
    """The job's fields, its tasks and, if asked, the tracebacks of failures.

    ``history`` is ``orchestrator.views.history_dict`` (``traceback=True`` for
    the tracebacks to show).
    """
    parts: list[RenderableType] = [job_panel(history)]
    if history["retried_by"]:
        parts.append(Text("retried by: " + ", ".join(history["retried_by"])))
    tasks = history["tasks"]
    if tasks:
        parts.append(tasks_table(tasks))
    else:
        hint = "" if history["state"] in TERMINAL_STATES else (
            f"; 'orchestrator jobs explain {history['id'][:8]}' says why")
        parts.append(Text(f"no task has started yet{hint}", style="dim"))
    if history["attempt_history"]:
        parts.append(attempts_table(history["attempt_history"]))
    for passed in history["passed_over"]:
        parts.append(Text(f"passed over by {passed['conductor']} at "
                          f"{_when(passed['passed_at'])}: {passed['reason']}",
                          style="yellow"))
    if traceback:
        for task in tasks:
            for what, failure in (("execute", task["failure"]),
                                  ("revert", task["revert_failure"])):
                if failure is None or is_cancellation(failure):
                    continue
                body = failure["traceback"] or (f"{failure['type']}: {failure['message']}\n"
                                                "(no traceback was recorded)")
                parts.append(Panel(Text(body), title=Text(f"{task['name']}: {what} failed"),
                                   title_align="left", border_style="red"))
    return Group(*parts)


def explanation_view(explanation: View) -> RenderableType:
    """The summary, who holds the job, when it may run again, and the details
    (``orchestrator.views.explanation_dict``)."""
    parts: list[RenderableType] = [Text(explanation["summary"])]
    holder = explanation["holder"]
    if holder is not None:
        alive = {True: "alive", False: "not alive", None: "liveness unknown"}[holder["alive"]]
        parts.append(Text(f"held by: {holder['conductor']} ({alive}) since "
                          f"{_when_utc(holder['since'])}"))
    if explanation["next_attempt_at"] is not None:
        parts.append(Text(f"next attempt: {_when_utc(explanation['next_attempt_at'])}"))
    parts += [Text(f"  - {reason}", style="dim") for reason in explanation["reasons"]]
    return Group(*parts)
