"""One measured run: post N jobs, let K conductor processes run them, time it.

The same procedure for every system, which differ only in how a database is
prepared, how a job is posted and which conductor process is started
(``Ours`` and ``Stock`` below; ``Stock(tables_once=True)`` is stock TaskFlow with
its persistence ``Connection`` built once).

A run: fresh database and board path; one warm-up job posted; K conductors
started; wait until all K have registered on the board and the warm-up job has
finished; then post N jobs back to back (each post timed) and wait until all
have finished and left the board. The window runs from just before the first
post to the moment the last flow detail was saved SUCCESS
(``flowdetails.updated_at``, written by the conductor that ran it) - the same
clock and the same row for every system. The conductors' CPU is read once the
board is empty; then they are killed (their work is done and measured).
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from taskflow.persistence.backends.sqlalchemy import tables as tf_tables

import jobs
import persistence
from bench import services as svc
from bench import stock
from orchestrator import Orchestrator
from orchestrator.registry import FlowRegistry

ROOT = Path(__file__).resolve().parent.parent
FLOW_TASKS = {"bench-1-task": 1, "bench-10-tasks": 10}
_FINISHED = ("SUCCESS", "FAILURE", "REVERTED")
_POLL = 0.1  # how often the database is asked whether the jobs are done
_CLK_TCK = os.sysconf("SC_CLK_TCK")


class RunFailed(Exception):
    """A run did not complete (a conductor died, a job failed, or it stalled)."""


@dataclass(frozen=True)
class Settings:
    poll_interval: float = 0.05  # ours: [conductor] poll_interval; stock: wait_timeout
    max_jobs: int = 4  # jobs per conductor at once (ours; a blocking stock conductor runs one)
    stock_kind: str = "blocking"
    stall_timeout: float = 60.0  # fail a run when no job finishes for this long
    start_timeout: float = 60.0


@dataclass(frozen=True)
class Case:
    backend: str
    conductors: int
    flow: str
    jobs: int

    @property
    def tasks(self) -> int:
        return FLOW_TASKS[self.flow]


@dataclass
class RunResult:
    system: str
    case: Case
    rep: int
    elapsed: float | None = None
    post_latencies: list[float] = field(default_factory=list)
    conductor_cpu: float | None = None
    error: str | None = None
    load: float | None = None  # 1-minute load average when the run began
    machine_busy: float | None = None  # share of all CPUs busy (anyone's) while measured
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.elapsed is not None

    @property
    def jobs(self) -> int:
        return self.case.jobs

    @property
    def jobs_per_s(self) -> float | None:
        return self.jobs / self.elapsed if self.ok and self.elapsed else None

    @property
    def tasks_per_s(self) -> float | None:
        jps = self.jobs_per_s
        return None if jps is None else jps * self.case.tasks

    @property
    def post_ms(self) -> float | None:
        if not self.post_latencies:
            return None
        return statistics.median(self.post_latencies) * 1000

    @property
    def cpu_ms_per_job(self) -> float | None:
        if not self.ok or self.conductor_cpu is None:
            return None
        return self.conductor_cpu / self.jobs * 1000


@dataclass(frozen=True)
class Poster:
    """Posts one job of a flow; ``engine`` is the one its SQL goes through."""

    post: Callable[[str], object]
    engine: sa.Engine


class System(Protocol):
    name: str

    def prepare(self, url: str) -> None: ...

    def poster(self, url: str, hosts: str,
               path: str) -> contextlib.AbstractContextManager[Poster]: ...

    def command(self, name: str, url: str, hosts: str, path: str, run_dir: Path,
                settings: Settings) -> list[str]: ...

    def verify(self, url: str, expected: int) -> dict[str, Any]: ...


class Ours:
    """``orchestrator conductor`` processes; jobs posted through ``Orchestrator``."""

    name = "ours"

    def __init__(self) -> None:
        self._registry = FlowRegistry.from_entry_points()

    def prepare(self, url: str) -> None:
        db = persistence.Database(url)
        try:
            db.upgrade()
        finally:
            db.close()

    @contextlib.contextmanager
    def poster(self, url: str, hosts: str, path: str) -> Iterator[Poster]:
        db = persistence.Database(url)
        board = jobs.JobboardSettings(hosts=(hosts,), path=path)
        try:
            with Orchestrator(db, self._registry, board, client_name="bench-poster") as orch:
                yield Poster(orch.post, db.engine)
        finally:
            db.close()

    def command(self, name: str, url: str, hosts: str, path: str, run_dir: Path,
                settings: Settings) -> list[str]:
        config = run_dir / "orchestrator.conf"
        if not config.exists():
            config.write_text(
                "[DEFAULT]\n"
                f"state_path = {run_dir / 'state'}\n"
                "[jobboard]\n"
                f"hosts = {hosts}\n"
                f"path = {path}\n"
                "[database]\n"
                f"connection = {url}\n"
                "[conductor]\n"
                f"poll_interval = {settings.poll_interval}\n"
                f"max_simultaneous_jobs = {settings.max_jobs}\n"
            )
        return [sys.executable, "-m", "orchestrator.cli.main", "--config-file", str(config),
                "conductor", "--name", name]

    def verify(self, url: str, expected: int) -> dict[str, Any]:
        db = persistence.Database(url)
        try:
            with db.session() as session:
                records = persistence.list_jobs(session, limit=expected + 10)
        finally:
            db.close()
        states = [r.state.value for r in records]
        if len(records) != expected or set(states) != {"SUCCESS"}:
            raise RunFailed(f"job records: expected {expected} SUCCESS, got "
                            f"{_count(states)}")
        ends = [r.finished_at for r in records if r.finished_at is not None]
        return {"last_finished_at": max(ends).astimezone(UTC).replace(tzinfo=None)}


class Stock:
    """``bench.stock_conductor`` processes (stock TaskFlow conductor and persistence).

    ``tables_once``: the persistence backend builds its ``Connection`` once (see
    ``bench.stock``), in the conductors and the poster alike.
    """

    def __init__(self, *, tables_once: bool = False) -> None:
        self.tables_once = tables_once
        self.name = TABLES_ONCE if tables_once else STOCK

    def prepare(self, url: str) -> None:
        stock.upgrade(url)

    @contextlib.contextmanager
    def poster(self, url: str, hosts: str, path: str) -> Iterator[Poster]:
        backend = stock.backend(url, tables_once=self.tables_once)
        try:
            board = stock.board("bench-poster", hosts, path, backend)
            try:
                yield Poster(lambda flow: stock.post(backend, board, flow), backend.engine)
            finally:
                board.close()
        finally:
            backend.close()

    def command(self, name: str, url: str, hosts: str, path: str, run_dir: Path,
                settings: Settings) -> list[str]:
        return [sys.executable, "-m", "bench.stock_conductor", "--hosts", hosts,
                "--path", path, "--connection", url, "--name", name,
                "--kind", settings.stock_kind,
                "--wait-timeout", str(settings.poll_interval),
                "--max-jobs", str(settings.max_jobs),
                *(["--tables-once"] if self.tables_once else [])]

    def verify(self, url: str, expected: int) -> dict[str, Any]:
        return {}  # the flow details' states are checked for both systems


OURS, TABLES_ONCE, STOCK = "ours", "tables-once", "stock"
SYSTEMS: dict[str, Callable[[], System]] = {
    OURS: Ours,
    TABLES_ONCE: lambda: Stock(tables_once=True),
    STOCK: Stock,
}


def run_once(system: System, case: Case, rep: int, settings: Settings,
             services: svc.Services, run_dir: Path) -> RunResult:
    """Measure one run; a failure is recorded in the result, not raised."""
    result = RunResult(system.name, case, rep, load=os.getloadavg()[0])
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        _measure(system, case, settings, services, run_dir, result)
    except RunFailed as exc:
        result.error = str(exc)
    except Exception as exc:  # a service error fails this run, not the benchmark
        result.error = f"{type(exc).__name__}: {exc}"
    return result


def _measure(system: System, case: Case, settings: Settings, services: svc.Services,
             run_dir: Path, result: RunResult) -> None:
    path = svc.board_path()
    expected = case.jobs + 1  # and the warm-up job
    with services.database(case.backend, run_dir) as url:
        system.prepare(url)
        observer = Observer(url)
        try:
            with system.poster(url, services.zk_hosts, path) as poster, \
                    ConductorGroup(run_dir) as group:
                post = poster.post
                post(case.flow)  # warm-up: connects the poster, gives conductors work
                for i in range(case.conductors):
                    name = f"{system.name}-{i + 1}"
                    group.start(name, system.command(name, url, services.zk_hosts, path,
                                                     run_dir, settings))
                _wait(lambda: (svc.conductors_registered(services.client, path)
                               >= case.conductors and observer.finished() >= 1),
                      settings.start_timeout, group, "conductors to start")
                cpu_before, machine_before = group.cpu_seconds(), machine_cpu()
                start = _utcnow()
                for _ in range(case.jobs):
                    began = time.perf_counter()
                    post(case.flow)
                    result.post_latencies.append(time.perf_counter() - began)
                _wait_progress(observer, expected, settings.stall_timeout, group)
                # Finished jobs leave the board once their records are written.
                _wait(lambda: not svc.job_nodes(services.client, path),
                        settings.stall_timeout, group, "finished jobs to leave the board")
                result.conductor_cpu = group.cpu_seconds() - cpu_before
                result.machine_busy = machine_busy(machine_before, machine_cpu())
                # Measured: a graceful stop would only cost the next run time.
                group.kill()
            states = observer.states()
            if states != {"SUCCESS": expected}:
                raise RunFailed(f"flow details: expected {expected} SUCCESS, got {states}")
            notes = system.verify(url, expected)
            end = observer.last_finished()
            assert end is not None
            result.elapsed = (end - start).total_seconds()
            if "last_finished_at" in notes:
                # Our job records' clock, for comparison with the flow details'.
                result.notes["elapsed_to_finished_at"] = (
                    notes["last_finished_at"] - start).total_seconds()
        finally:
            observer.close()


class Observer:
    """Reads TaskFlow's ``flowdetails`` table: the one record both systems keep."""

    def __init__(self, url: str) -> None:
        connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
        self._engine = sa.create_engine(url, connect_args=connect_args,
                                        poolclass=sa.pool.NullPool)
        self._table = tf_tables.fetch(sa.MetaData()).flowdetails

    def finished(self) -> int:
        query = sa.select(sa.func.count()).where(self._table.c.state.in_(_FINISHED))
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def states(self) -> dict[str, int]:
        query = sa.select(self._table.c.state, sa.func.count()).group_by(self._table.c.state)
        with self._engine.connect() as conn:
            return {str(state): int(n) for state, n in conn.execute(query)}

    def last_finished(self) -> datetime | None:
        query = sa.select(sa.func.max(self._table.c.updated_at)).where(
            self._table.c.state == "SUCCESS")
        with self._engine.connect() as conn:
            value = conn.execute(query).scalar_one()
        return value if isinstance(value, datetime) else None

    def close(self) -> None:
        self._engine.dispose()


class ConductorGroup:
    """Conductor processes, each in its own session (Ctrl-C reaches only us).

    Leaving the context stops them all: SIGTERM, then SIGKILL after a grace
    period; nothing outlives the run. ``kill()`` ends them at once.
    """

    GRACE = 10.0

    def __init__(self, run_dir: Path) -> None:
        self._run_dir = run_dir
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> ConductorGroup:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, name: str, command: list[str]) -> None:
        with open(self._log_path(name), "wb") as log:
            self._procs[name] = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=ROOT, start_new_session=True)

    def check_alive(self) -> None:
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                raise RunFailed(f"conductor {name} exited with code {proc.returncode}:\n"
                                + self.log_tail(name))

    def cpu_seconds(self) -> float:
        """User + system CPU the conductor processes have used so far."""
        total = 0.0
        for proc in self._procs.values():
            with open(f"/proc/{proc.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _CLK_TCK
        return total

    def log_tail(self, name: str, lines: int = 15) -> str:
        text = self._log_path(name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def log_tails(self) -> str:
        return "\n".join(f"--- {name}:\n{self.log_tail(name)}" for name in self._procs)

    def kill(self) -> None:
        """SIGKILL them all at once and reap them (their ZooKeeper sessions expire)."""
        for proc in self._procs.values():
            _signal_group(proc, signal.SIGKILL)
        for proc in self._procs.values():
            proc.wait()
        self._procs.clear()

    def stop(self) -> None:
        for proc in self._procs.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.GRACE
        for proc in self._procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        self._procs.clear()

    def _log_path(self, name: str) -> Path:
        return self._run_dir / f"conductor-{name}.log"


def machine_cpu() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def machine_busy(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else None


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)


def _wait(predicate: Callable[[], bool], timeout: float, group: ConductorGroup,
          what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        group.check_alive()
        if time.monotonic() >= deadline:
            raise RunFailed(f"timed out after {timeout:g}s waiting for {what}\n"
                            + group.log_tails())
        time.sleep(_POLL)


def _wait_progress(observer: Observer, expected: int, stall_timeout: float,
                   group: ConductorGroup) -> None:
    """Wait until ``expected`` flows finished; fail when none finishes for a while."""
    done, last_change = -1, time.monotonic()
    while True:
        now_done = observer.finished()
        if now_done >= expected:
            return
        if now_done != done:
            done, last_change = now_done, time.monotonic()
        group.check_alive()
        if time.monotonic() - last_change > stall_timeout:
            raise RunFailed(f"stalled: {done} of {expected} flows finished, none in the "
                            f"last {stall_timeout:g}s\n" + group.log_tails())
        time.sleep(_POLL)


def _utcnow() -> datetime:
    # Naive UTC, as TaskFlow writes flowdetails.updated_at.
    return datetime.now(UTC).replace(tzinfo=None)


def _count(values: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
