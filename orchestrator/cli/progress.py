"""Live progress of a job on stderr, so that stdout stays scriptable.

On a terminal a rich display shows how many tasks have executed out of the
total, the task running now and, once the flow reverts, how many tasks are
reverted. Anywhere else (a pipe, a log file) the same news comes as plain
lines, printed only when something changed.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
)
from rich.text import Text

from orchestrator.cli import render
from orchestrator.cli.render import state_text
from orchestrator.errors import WaitTimeout
from orchestrator.service import JobHistory, JobRecord, Orchestrator, TaskHistory

# TaskFlow's task states (strings in its atom details).
_RUNNING = "RUNNING"
_REVERTING = "REVERTING"
_REVERTED_STATES = frozenset({"REVERTED", "REVERT_FAILURE"})


@dataclass(frozen=True)
class Snapshot:
    """How far a job has got, as a progress display shows it."""

    state: str
    owner: str | None
    attempts: int
    total: int
    executed: int
    failed: tuple[str, ...]
    running: tuple[str, ...]
    revert_total: int
    reverted: int
    reverting: tuple[str, ...]
    terminal: bool

    @property
    def is_reverting(self) -> bool:
        return self.revert_total > 0

    def job_line(self) -> str:
        """The job's state as ``post --wait`` has always printed it."""
        return self.state + self.whereabouts()

    def whereabouts(self) -> str:
        """`` on c1 (attempt 2)``: who runs the job and how many claims so far."""
        owner = f" on {self.owner}" if self.owner else ""
        return f"{owner} (attempt {self.attempts})"

    def summary(self) -> str:
        """``executed 2/3, running call-joe``; what failed; the revert part once it reverts."""
        if self.total == 0:
            return "waiting for a conductor to start the flow"
        parts = [f"executed {self.executed}/{self.total}"]
        if self.failed:
            parts.append("failed " + ", ".join(self.failed))
        if self.running:
            parts.append("running " + ", ".join(self.running))
        if self.is_reverting:
            parts.append(f"reverted {self.reverted}/{self.revert_total}")
            if self.reverting:
                parts.append("reverting " + ", ".join(self.reverting))
        return ", ".join(parts)


def snapshot(history: JobHistory) -> Snapshot:
    """Count the job's tasks: executed, running, to revert, reverted."""
    tasks = history.tasks
    record = history.record
    to_revert = [t for t in tasks
                 if t.intention == "REVERT" or t.state == _REVERTING
                 or t.state in _REVERTED_STATES]
    return Snapshot(
        state=record.state.value,
        owner=record.owner,
        attempts=record.attempts,
        total=len(tasks),
        # A task whose execute raised ended its execute, but did not execute.
        executed=sum(1 for t in tasks
                     if t.execute_finished_at is not None and t.failure is None),
        failed=tuple(t.name for t in tasks if t.failure is not None),
        running=tuple(t.name for t in tasks if t.state == _RUNNING),
        revert_total=len(to_revert),
        reverted=sum(1 for t in to_revert if t.state in _REVERTED_STATES),
        reverting=tuple(t.name for t in tasks if t.state == _REVERTING),
        terminal=record.is_terminal,
    )


class Reporter(Protocol):
    """Shows each poll of a job's history."""

    def update(self, history: JobHistory) -> None: ...


class PlainReporter:
    """One line per change: the job's state, each task's state, the counts."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._job_line: str | None = None
        self._summary: str | None = None
        self._task_states: dict[str, str] = {}

    def update(self, history: JobHistory) -> None:
        now = snapshot(history)
        job_line = now.job_line()
        job_changed = job_line != self._job_line
        self._job_line = job_line
        if job_changed and not now.terminal:
            self._print(job_line)
        changed = [t for t in history.tasks
                   if self._task_states.get(t.name, "PENDING") != t.state]
        for task in sorted(changed, key=_order_seen):
            self._task_states[task.name] = task.state
            self._print(_task_line(task))
        summary = now.summary()
        if summary != self._summary and now.total:
            self._print(summary)
        self._summary = summary
        if job_changed and now.terminal:
            self._print(job_line)

    def _print(self, line: str) -> None:
        self._console.print(Text(f"  {line}"), soft_wrap=True, highlight=False)


def _order_seen(task: TaskHistory) -> tuple[int, float]:
    """Changes seen in one poll, in the order they happened: executions in
    execution order, then reverts by when each began (the last executed first)."""
    if task.revert_started_at is None:
        return (0, 0.0)  # sorted() is stable: execution order stays
    return (1, task.revert_started_at.timestamp())


def _task_line(task: TaskHistory) -> str:
    line = f"{task.name}: {task.state}"
    for what, failure in (("failed", task.failure), ("revert failed", task.revert_failure)):
        if failure is not None:
            line += f" ({what}: {failure.type}: {failure.message})"
    return line


class LiveReporter:
    """A rich display: an execute bar, a revert bar once it reverts."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._execute: TaskID = progress.add_task("execute", total=None, current="")
        self._revert: TaskID | None = None
        self._job_line: str | None = None

    def update(self, history: JobHistory) -> None:
        now = snapshot(history)
        job_line = now.job_line()
        if job_line != self._job_line:
            self._job_line = job_line
            self._progress.console.print(
                Text.assemble("job ", history.record.id, " ",
                              state_text(now.state), now.whereabouts()))
        current = ", ".join(now.running)
        if now.total == 0:
            current = "waiting for a conductor"
        self._progress.update(self._execute, total=now.total or None,
                              completed=now.executed, current=current)
        if now.is_reverting:
            if self._revert is None:
                self._revert = self._progress.add_task("revert", total=now.revert_total,
                                                       current="")
            self._progress.update(self._revert, total=now.revert_total,
                                  completed=now.reverted,
                                  current=", ".join(now.reverting))


@contextmanager
def reporter(console: Console | None = None) -> Iterator[Reporter]:
    """A live display when ``console`` (default: stderr) is a terminal, else lines."""
    console = console or render.console(stderr=True)
    if not console.is_terminal:
        yield PlainReporter(console)
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<7}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[current]}", markup=False),
        console=console,
    )
    with progress:
        yield LiveReporter(progress)


def follow(orchestrator: Orchestrator, job_id: str, report: Reporter, *,
           timeout: float | None = None, interval: float = 0.2,
           stop: threading.Event | None = None) -> JobHistory:
    """Poll the job's history until it ends, reporting each poll.

    Raises ``WaitTimeout`` once ``timeout`` seconds have passed, and
    ``KeyboardInterrupt`` between two polls once ``stop`` is set.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    stop = stop or threading.Event()
    while True:
        if stop.is_set():
            raise KeyboardInterrupt
        history = orchestrator.job_history(job_id)
        report.update(history)
        if history.record.is_terminal:
            return history
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeout(
                f"job {job_id} is still {history.record.state.value} after {timeout:g}s"
            )
        stop.wait(interval)  # the poll interval


def watch(orchestrator: Orchestrator, job_id: str, *,
          timeout: float | None = None) -> JobRecord:
    """Show the job's progress on stderr until it ends; return its final record.

    A Ctrl-C stops the watching between two polls, as ``KeyboardInterrupt``:
    raised in the middle of a query, it could leave the database connection
    unusable and end in a database error instead. A second Ctrl-C interrupts
    at once.
    """
    stop = threading.Event()
    with reporter() as report, _ctrl_c_sets(stop):
        return follow(orchestrator, job_id, report, timeout=timeout, stop=stop).record


@contextmanager
def _ctrl_c_sets(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _on_sigint(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            signal.default_int_handler(signum, frame)
        stop.set()

    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
