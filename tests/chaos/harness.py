"""What chaos tests share, knowing nothing of conductors: processes kept alive and
killed at random, SIGSTOP/SIGCONT, and a reader for the side-effect ledger.

The ledger (see ``orchestrator.flows.ledger``) is the ground truth of which side
effects happened and how often; a chaos test asserts on its counts.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

#: Seconds between two looks for dead children; a dead one is restarted this fast.
MONITOR_INTERVAL = 0.05


# --- Signals -----------------------------------------------------------------------


def send_signal(pid: int, sig: signal.Signals, *, group: bool = True) -> bool:
    """Send ``sig`` to ``pid``, or to its process group; False if it is already gone."""
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def suspend(pid: int, *, group: bool = True) -> bool:
    """Freeze a process (SIGSTOP), as a stalled VM or a long GC pause would."""
    return send_signal(pid, signal.SIGSTOP, group=group)


def resume(pid: int, *, group: bool = True) -> bool:
    """Let a frozen process run again (SIGCONT)."""
    return send_signal(pid, signal.SIGCONT, group=group)


@contextlib.contextmanager
def suspended(pid: int, *, group: bool = True) -> Iterator[None]:
    """Keep ``pid`` frozen for the block; it runs again afterwards, whatever happens."""
    suspend(pid, group=group)
    try:
        yield
    finally:
        resume(pid, group=group)


def process_state(pid: int) -> str | None:
    """The kernel's state letter for ``pid`` (``T`` stopped, ``Z`` zombie, ``S``/``R``
    alive), or ``None`` when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; the state follows
    # its last closing parenthesis.
    return stat.rpartition(")")[2].split()[0]


# --- Supervisor --------------------------------------------------------------------


@dataclass(frozen=True)
class ChildStats:
    """What happened to one supervised child so far."""

    name: str
    pid: int | None  # current process, None while it is being restarted or stopped
    starts: int  # processes started, the first one included
    deaths: int  # processes that exited, for whatever reason
    kills: int  # signals sent by the supervisor to kill it (kill() and chaos)
    exit_codes: tuple[int, ...]  # of every death, oldest first; -9 is a SIGKILL


@dataclass
class _Child:
    name: str
    command: Sequence[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    deaths: int = 0
    kills: int = 0
    exit_codes: list[int] = field(default_factory=list)
    sigkilled_pid: int | None = None  # dying already: a second kill is no new kill


class Supervisor:
    """Keeps named subprocesses running: one that dies is started again at once.

    Each child runs in its own process group (so a kill takes its children along,
    as a crash of its machine would) with its output appended to
    ``log_dir/<name>.log``. Optionally a background thread kills a random child
    every few seconds (:meth:`start_chaos`). :meth:`stop` ends everything.
    """

    def __init__(
        self,
        commands: Mapping[str, Sequence[str]],
        log_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        if not commands:
            raise ValueError("nothing to supervise")
        log_dir.mkdir(parents=True, exist_ok=True)
        self._children = {
            name: _Child(name, list(command), log_dir / f"{name}.log")
            for name, command in commands.items()
        }
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._lock = threading.Lock()
        self._restart = True
        self._stopping = threading.Event()
        self._chaos_stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._chaos: threading.Thread | None = None

    # Lifecycle

    def start(self) -> None:
        """Start every child and the thread that restarts them."""
        with self._lock:
            for child in self._children.values():
                self._spawn(child)
        monitor = threading.Thread(target=self._monitor, name="supervisor", daemon=True)
        monitor.start()
        self._threads.append(monitor)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop chaos and restarts, then every child: SIGTERM, SIGKILL after
        ``timeout``. Idempotent."""
        self.stop_chaos()
        self._stopping.set()
        for thread in self._threads:
            thread.join()
        with self._lock:
            processes = [c.process for c in self._children.values() if c.process]
        for process in processes:
            send_signal(process.pid, signal.SIGTERM)
            send_signal(process.pid, signal.SIGCONT)  # a frozen one must see the TERM
        for process in processes:
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                send_signal(process.pid, signal.SIGKILL)
                process.wait()
            # Whatever else its group started must not outlive the test either.
            send_signal(process.pid, signal.SIGKILL)
        with self._lock:
            for child in self._children.values():
                child.process = None

    def __enter__(self) -> Supervisor:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Chaos

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> int | None:
        """Send ``sig`` (kill -9 by default) to the child's group; returns its pid,
        or ``None`` when it was not running. It is restarted if restarts are on."""
        with self._lock:
            child = self._children[name]
            if child.process is None or child.process.poll() is not None:
                return None
            pid = child.process.pid
            if child.sigkilled_pid == pid:
                return None
            if send_signal(pid, sig):
                child.kills += 1
                if sig == signal.SIGKILL:
                    child.sigkilled_pid = pid
            return pid

    def kill_random(
        self, rng: random.Random, sig: signal.Signals = signal.SIGKILL
    ) -> str | None:
        """Kill one running child chosen by ``rng``; returns its name."""
        with self._lock:
            running = sorted(
                name
                for name, child in self._children.items()
                if child.process is not None and child.process.poll() is None
            )
        if not running:
            return None
        name = rng.choice(running)
        return name if self.kill(name, sig) is not None else None

    def start_chaos(
        self, every: float, *, seed: int | None = None, sig: signal.Signals = signal.SIGKILL
    ) -> None:
        """Kill a random child every ``every`` seconds until :meth:`stop_chaos`.

        Pass ``seed`` to replay the same sequence of victims.
        """
        if self._chaos is not None:
            raise RuntimeError("chaos is already running")
        rng = random.Random(seed)
        self._chaos_stop.clear()

        def run() -> None:
            while not self._chaos_stop.wait(every):  # the chaos's own rhythm
                self.kill_random(rng, sig)

        self._chaos = threading.Thread(target=run, name="supervisor-chaos", daemon=True)
        self._chaos.start()

    def stop_chaos(self) -> None:
        """Stop killing children at random; those running keep running."""
        self._chaos_stop.set()
        if self._chaos is not None:
            self._chaos.join()
            self._chaos = None

    def set_restart(self, enabled: bool) -> None:
        """Turn restarting dead children on or off (on at first)."""
        with self._lock:
            self._restart = enabled

    def suspend(self, name: str) -> int | None:
        """SIGSTOP the child's group; returns its pid, or ``None`` if not running."""
        pid = self.pid(name)
        return pid if pid is not None and suspend(pid) else None

    def resume(self, name: str) -> int | None:
        """SIGCONT the child's group; returns its pid, or ``None`` if not running."""
        pid = self.pid(name)
        return pid if pid is not None and resume(pid) else None

    # Observation

    def pid(self, name: str) -> int | None:
        """Process id of the child's current process while it runs."""
        with self._lock:
            process = self._children[name].process
            return process.pid if process is not None and process.poll() is None else None

    def stats(self, name: str) -> ChildStats:
        with self._lock:
            child = self._children[name]
            process = child.process
            return ChildStats(
                name=name,
                pid=process.pid if process is not None and process.poll() is None else None,
                starts=child.starts,
                deaths=child.deaths,
                kills=child.kills,
                exit_codes=tuple(child.exit_codes),
            )

    def all_stats(self) -> dict[str, ChildStats]:
        return {name: self.stats(name) for name in self._children}

    @property
    def total_deaths(self) -> int:
        return sum(s.deaths for s in self.all_stats().values())

    @property
    def total_kills(self) -> int:
        return sum(s.kills for s in self.all_stats().values())

    def log_path(self, name: str) -> Path:
        return self._children[name].log_path

    # Internals

    def _spawn(self, child: _Child) -> None:
        with child.log_path.open("ab") as log:
            child.process = subprocess.Popen(
                child.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=self._cwd,
                start_new_session=True,  # its own group: a kill takes its children too
            )
        child.starts += 1

    def _monitor(self) -> None:
        while not self._stopping.wait(MONITOR_INTERVAL):
            with self._lock:
                if self._stopping.is_set():
                    return
                for child in self._children.values():
                    process = child.process
                    if process is None or (code := process.poll()) is None:
                        continue
                    child.deaths += 1
                    child.exit_codes.append(code)
                    child.process = None
                    # Its group may still hold children it started; they die with it.
                    send_signal(process.pid, signal.SIGKILL)
                if self._restart:
                    for child in self._children.values():
                        if child.process is None:
                            self._spawn(child)


# --- Ledger ------------------------------------------------------------------------


#: Actions a ledger records: a step began, finished its side effect, undid it.
ACTIONS = ("start", "execute", "revert")


class LedgerFormatError(ValueError):
    """A ledger line is not ``<action> <task> <pid> [<job> [<time>]]``: it is corrupt."""


@dataclass(frozen=True)
class LedgerEntry:
    action: str
    task: str
    pid: int
    job: str | None = None  # absent from lines written before jobs were recorded
    at: float | None = None  # unix time, on lines that name their job


@dataclass(frozen=True)
class StepCount:
    """How often one step of one job started, executed and reverted."""

    start: int = 0
    execute: int = 0
    revert: int = 0


def parse_ledger_line(line: str) -> LedgerEntry:
    """Parse ``<action> <task> <pid>``, optionally followed by the job and the time."""
    fields = line.split()
    if len(fields) not in (3, 4, 5) or not fields[2].isdigit():
        raise LedgerFormatError(f"not a ledger line: {line!r}")
    job = fields[3] if len(fields) >= 4 else None
    try:
        at = float(fields[4]) if len(fields) == 5 else None
    except ValueError:
        raise LedgerFormatError(f"not a ledger time: {line!r}") from None
    return LedgerEntry(action=fields[0], task=fields[1], pid=int(fields[2]), job=job,
                       at=at)


def read_ledger(path: str | os.PathLike[str]) -> list[LedgerEntry]:
    """The ledger's entries, oldest first; an absent ledger has none.

    A last line without its newline is left out: a writer may be appending it right
    now (each line is one ``write``, but a reader may still see part of it).
    """
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    # The element after the last "\n" is "" or an unfinished line: skip it either way.
    return [parse_ledger_line(line) for line in lines[:-1] if line.strip()]


class LedgerCounts:
    """Counts of ledger entries per ``(job, task)`` and action.

    ``job`` is ``None`` for lines that name no job (one ledger per job).
    """

    def __init__(self, entries: Iterable[LedgerEntry]) -> None:
        self._counts: Counter[tuple[str | None, str, str]] = Counter(
            (entry.job, entry.task, entry.action) for entry in entries
        )

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> LedgerCounts:
        return cls(read_ledger(path))

    def of(self, task: str, job: str | None = None) -> StepCount:
        """How often ``task`` of ``job`` started, executed and reverted (0 if never)."""
        return StepCount(
            start=self._counts[(job, task, "start")],
            execute=self._counts[(job, task, "execute")],
            revert=self._counts[(job, task, "revert")],
        )

    def count(self, action: str, task: str, job: str | None = None) -> int:
        """Entries for any action, including ones not in :data:`ACTIONS`."""
        return self._counts[(job, task, action)]

    def steps(self) -> dict[tuple[str | None, str], StepCount]:
        """Every ``(job, task)`` seen, with its counts."""
        keys = sorted(
            {(job, task) for job, task, _action in self._counts},
            key=lambda key: (key[0] or "", key[1]),
        )
        return {(job, task): self.of(task, job) for job, task in keys}

    def jobs(self) -> set[str | None]:
        return {job for job, _task, _action in self._counts}


def overlapping_holders(entries: Iterable[LedgerEntry],
                        key_of: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """Pairs of jobs sharing a concurrency key that were at work at the same time.

    A job is at work, in one process, from the first to the last line that
    process wrote for it; two jobs of one key (``key_of``: job -> key) whose
    spans overlap ran at once. Returns ``(key, job, other job)``; [] means the
    limit of one held.
    """
    spans: dict[tuple[str, int], list[float]] = {}
    for entry in entries:
        if entry.job is None or entry.at is None or entry.job not in key_of:
            continue
        span = spans.setdefault((entry.job, entry.pid), [entry.at, entry.at])
        span[0], span[1] = min(span[0], entry.at), max(span[1], entry.at)
    by_key: dict[str, list[tuple[float, float, str]]] = {}
    for (job, _pid), (start, end) in spans.items():
        by_key.setdefault(key_of[job], []).append((start, end, job))
    overlaps = []
    for key, runs in sorted(by_key.items()):
        runs.sort()
        for index, (start, _end, job) in enumerate(runs):
            overlaps += [(key, other, job) for _start, end, other in runs[:index]
                         if other != job and end > start]
    return overlaps
